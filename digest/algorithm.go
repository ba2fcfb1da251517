package digest

import (
	"crypto/md5"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"hash"
)

// Algorithm is a Digest algorithm (RFC 7616 §3.3, §6.1). The zero value is
// MD5, what a challenge without an algorithm parameter means.
type Algorithm uint8

// The algorithms of the IANA "HTTP Digest Algorithm Values" registry that
// RFC 8760 §2 allows in SIP. A -sess variant hashes the nonce and cnonce
// into HA1 (RFC 7616 §3.4.2).
const (
	MD5 Algorithm = iota
	MD5Sess
	SHA256
	SHA256Sess
	SHA512_256
	SHA512_256Sess
	numAlgorithms
)

var algorithmNames = [numAlgorithms]string{"MD5", "MD5-sess", "SHA-256", "SHA-256-sess", "SHA-512-256", "SHA-512-256-sess"}

// String returns the name the registry gives a: "MD5", "SHA-256-sess" ...
func (a Algorithm) String() string {
	if a < numAlgorithms {
		return algorithmNames[a]
	}
	return "unknown"
}

// Session reports whether a is a -sess variant.
func (a Algorithm) Session() bool { return a < numAlgorithms && a%2 == 1 }

// Size is the length in bytes of a's hash: 16 for MD5, 32 for the others.
// Hex-encoded, a response is twice that.
func (a Algorithm) Size() int {
	if a <= MD5Sess {
		return md5.Size
	}
	return sha256.Size
}

// strength orders algorithms for RFC 7616 §3.7: SHA-512-256 > SHA-256 >
// MD5, a -sess variant as strong as its base.
func (a Algorithm) strength() int { return int(a / 2) }

func (a Algorithm) newHash() hash.Hash {
	switch a {
	case SHA256, SHA256Sess:
		return sha256.New()
	case SHA512_256, SHA512_256Sess:
		return sha512.New512_256()
	}
	return md5.New()
}

// ParseAlgorithm returns the algorithm called name, compared without
// regard to case.
func ParseAlgorithm[S ~string | ~[]byte](name S) (Algorithm, bool) {
	for a, n := range algorithmNames {
		if equalFold(name, n) {
			return Algorithm(a), true
		}
	}
	return 0, false
}

// h is the H() of RFC 7616 §3.4.1 over its parts joined by ':', as lower
// case hex.
func (a Algorithm) h(parts ...string) string {
	hs := a.newHash()
	for i, p := range parts {
		if i > 0 {
			hs.Write([]byte{':'})
		}
		hs.Write([]byte(p))
	}
	var sum [sha256.Size]byte
	return hex.EncodeToString(hs.Sum(sum[:0]))
}

// hBytes is H(data) of raw bytes (the body, for auth-int), as hex.
func (a Algorithm) hBytes(data []byte) string {
	hs := a.newHash()
	hs.Write(data)
	var sum [sha256.Size]byte
	return hex.EncodeToString(hs.Sum(sum[:0]))
}

// QOP is a quality of protection (RFC 7616 §3.3): a set of them in a
// challenge's qop-options, one in credentials. Zero means none: the RFC
// 2069 computation, kept for compatibility (RFC 3261 §22.4).
type QOP uint8

// The qop values of RFC 7616 §3.3.
const (
	QOPAuth    QOP = 1 << iota // "auth": authentication only
	QOPAuthInt                 // "auth-int": authentication and the body's integrity
)

// String returns "auth", "auth-int", "auth,auth-int" or "".
func (q QOP) String() string {
	switch q {
	case QOPAuth:
		return "auth"
	case QOPAuthInt:
		return "auth-int"
	case QOPAuth | QOPAuthInt:
		return "auth,auth-int"
	}
	return ""
}

// parseQOP returns the one qop called name, or 0.
func parseQOP(name []byte) QOP {
	switch {
	case equalFold(name, "auth"):
		return QOPAuth
	case equalFold(name, "auth-int"):
		return QOPAuthInt
	}
	return 0
}

// equalFold reports whether a and b are equal under ASCII case folding.
func equalFold[A, B ~string | ~[]byte](a A, b B) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if c-'A' < 26 {
		return c + 'a' - 'A'
	}
	return c
}

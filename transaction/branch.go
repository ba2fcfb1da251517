package transaction

import (
	"crypto/rand"
	"encoding/hex"

	"github.com/sipxfer/sipxfer/sip"
)

// branchLen is the length of the branches this package generates: the
// magic cookie and 16 hex digits (64 random bits).
const branchLen = len(sip.MagicCookie) + 16

// newBranch returns a fresh branch parameter. RFC 3261 §8.1.1.7: it MUST
// start with the magic cookie "z9hG4bK" and be unique across space and
// time for all requests sent by the UA.
func newBranch() (b [branchLen]byte) {
	copy(b[:], sip.MagicCookie)
	randomHex(b[len(sip.MagicCookie):])
	return b
}

// newTag returns a fresh To tag for the responses the Manager builds
// itself (RFC 3261 §19.3: at least 32 random bits; here 64).
func newTag() []byte {
	b := make([]byte, 16)
	randomHex(b)
	return b
}

// randomHex fills dst, of even length, with hex digits of random bytes.
func randomHex(dst []byte) {
	var r [32]byte
	n := len(dst) / 2
	if _, err := rand.Read(r[:n]); err != nil {
		// crypto/rand does not fail on supported systems (and from Go 1.24
		// never returns); without randomness no branch is unique.
		panic("transaction: crypto/rand: " + err.Error())
	}
	hex.Encode(dst, r[:n])
}

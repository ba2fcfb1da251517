package transport

import (
	"crypto/rand"
	"sync"

	"github.com/sipxfer/sipxfer/sip"
)

// randBytes hands out bytes from crypto/rand, read a block at a time so
// that a branch or tag costs no system call and no allocation.
var randBytes struct {
	mu   sync.Mutex
	buf  [512]byte
	used int
}

// fillRandom fills b (at most len(randBytes.buf) bytes) from crypto/rand.
func fillRandom(b []byte) {
	r := &randBytes
	r.mu.Lock()
	if r.used == 0 || r.used+len(b) > len(r.buf) {
		if _, err := rand.Read(r.buf[:]); err != nil {
			// Since Go 1.24 Read cannot fail; before, only a broken kernel.
			panic("transport: crypto/rand: " + err.Error())
		}
		r.used = 0
	}
	copy(b, r.buf[r.used:r.used+len(b)])
	clear(r.buf[r.used : r.used+len(b)]) // handed out once only
	r.used += len(b)
	r.mu.Unlock()
}

const hexDigits = "0123456789abcdef"

// appendRandomHex appends 2*n random lower-case hex digits (n <= 16).
func appendRandomHex(dst []byte, n int) []byte {
	var b [16]byte
	fillRandom(b[:n])
	for _, c := range b[:n] {
		dst = append(dst, hexDigits[c>>4], hexDigits[c&15])
	}
	return dst
}

// NewBranch appends a new branch parameter value to dst: the RFC 3261
// magic cookie "z9hG4bK" (§8.1.1.7) and 16 random hex digits (64 bits from
// crypto/rand), unique across space and time. It allocates nothing beyond
// growing dst.
func NewBranch(dst []byte) []byte {
	dst = append(dst, sip.MagicCookie...)
	return appendRandomHex(dst, 8)
}

// NewTag appends a new From or To tag to dst: 16 random hex digits, 64
// bits from crypto/rand, beyond the 32 RFC 3261 §19.3 asks for. It
// allocates nothing beyond growing dst.
func NewTag(dst []byte) []byte { return appendRandomHex(dst, 8) }

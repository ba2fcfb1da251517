package transaction

import (
	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transport"
)

// branchLen is the length of the branches this package generates: the
// magic cookie and 16 hex digits (64 random bits, transport.NewBranch).
const branchLen = len(sip.MagicCookie) + 16

// newBranch returns a fresh branch parameter in a fixed-size array, so that
// keys built from it allocate nothing. RFC 3261 §8.1.1.7: it MUST start
// with the magic cookie "z9hG4bK" and be unique across space and time for
// all requests sent by the UA.
func newBranch() (b [branchLen]byte) {
	transport.NewBranch(b[:0])
	return b
}

// newTag returns a fresh To tag for the responses the Manager builds
// itself (RFC 3261 §19.3: at least 32 random bits; here 64).
func newTag() []byte { return transport.NewTag(make([]byte, 0, 16)) }

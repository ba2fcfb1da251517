package transaction

import (
	"bytes"
	"testing"

	"github.com/sipxfer/sipxfer/sip"
)

// newBranch fills its whole array: the magic cookie then hex digits, and
// two calls never agree (RFC 3261 §8.1.1.7).
func TestNewBranch(t *testing.T) {
	a, b := newBranch(), newBranch()
	for _, br := range [][branchLen]byte{a, b} {
		if !bytes.HasPrefix(br[:], []byte(sip.MagicCookie)) || bytes.IndexByte(br[:], 0) >= 0 {
			t.Fatalf("branch %q", br[:])
		}
	}
	if a == b {
		t.Fatalf("two branches alike: %q", a[:])
	}
	if tag := newTag(); len(tag) != 16 {
		t.Errorf("tag %q", tag)
	}
}

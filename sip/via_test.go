package sip

import (
	"fmt"
	"testing"
)

// FuzzSentBy checks that parseSentBy, whose usual values scanHost judges
// in one pass, reads and rejects what the general path does, with the
// same error.
func FuzzSentBy(f *testing.F) {
	for _, s := range []string{"192.0.2.10:5060;branch=x", "host.example.com", "h:0", "h:65536", "h:5060x",
		"[2001:db8::1]:5060", "a@b:1", "1.2.3.4.5:6 ;x", "a:", ":5060", "h:5060\t;x", "-h.example"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var fast, slow Via
		end, err := fast.parseSentBy(b)
		wantEnd, wantErr := slow.parseSentBySlow(b)
		if fmt.Sprint(err) != fmt.Sprint(wantErr) || err == nil && (end != wantEnd ||
			string(fast.Host) != string(slow.Host) || fast.Port != slow.Port) {
			t.Fatalf("%q: parseSentBy %d %q %d %v; general path %d %q %d %v",
				b, end, fast.Host, fast.Port, err, wantEnd, slow.Host, slow.Port, wantErr)
		}
	})
}

package dnsmsg

import (
	"errors"
	"reflect"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to Decode: it must not panic, and what
// it accepts must encode again (unless uncompressed it no longer fits
// MaxMessageSize) and decode to the same message.
func FuzzDecode(f *testing.F) {
	if b, err := fullResponse().Append(nil); err == nil {
		f.Add(b)
	}
	if b, err := AppendQuery(nil, 1, "_sip._udp.example.test", TypeSRV, true); err == nil {
		f.Add(b)
	}
	// Compression: an answer whose owner and SRV target point back.
	f.Add([]byte{0, 1, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0,
		4, '_', 's', 'i', 'p', 4, '_', 'u', 'd', 'p', 4, 't', 'e', 's', 't', 0, 0, 33, 0, 1,
		0xC0, 12, 0, 33, 0, 1, 0, 0, 0, 60, 0, 10, 0, 1, 0, 0, 0x13, 0xC4, 1, 'a', 0xC0, 22})
	f.Fuzz(func(t *testing.T, b []byte) {
		var m Message
		if err := m.Decode(b); err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Offset < 0 || e.Offset > len(b) && e.Offset != MaxMessageSize {
				t.Fatalf("error without a valid offset: %v", err)
			}
			return
		}
		out, err := m.Append(nil)
		if errors.Is(err, ErrTooLarge) {
			return
		}
		if err != nil {
			t.Fatalf("decoded message does not encode: %v", err)
		}
		var again Message
		if err := again.Decode(out); err != nil {
			t.Fatalf("re-encoded message does not decode: %v", err)
		}
		if !reflect.DeepEqual(&m, &again) {
			t.Fatalf("round trip changed the message\n was %+v\n now %+v", m, again)
		}
	})
}

package sip

import (
	"bytes"
	"testing"
)

// skipClassRef is skipClass a byte at a time.
func skipClassRef(b []byte, i int, class uint16) int {
	for i < len(b) && charClass[b[i]]&class != 0 {
		i++
	}
	return i
}

func TestLabelClass(t *testing.T) {
	for c := 0; c < 256; c++ {
		want := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
		if got := isHostnameChar(byte(c)); got != want {
			t.Errorf("isHostnameChar(%q) = %v, want %v", c, got, want)
		}
	}
}

// FuzzSkipClass checks skipClass against a byte-at-a-time loop for every
// class, from every start.
func FuzzSkipClass(f *testing.F) {
	for _, s := range []string{"INVITE, ACK", "atlanta.example.com", "abc", "abcd", "abcde;x", "a b", "3848276298220188511@atlanta"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for bit := 0; bit < 16; bit++ {
			class := uint16(1) << bit
			for i := 0; i <= len(b) && i < 8; i++ {
				if got, want := skipClass(b, i, class), skipClassRef(b, i, class); got != want {
					t.Fatalf("skipClass(%q, %d, %#x) = %d, want %d", b, i, class, got, want)
				}
			}
		}
	})
}

// spanRef is span a byte at a time.
func spanRef(b []byte, class uint16) int {
	for i := 0; i < len(b); i++ {
		c := b[i]
		if charClass[c]&class == 0 || c == '%' && !isEscape(b, i) {
			return i
		}
		if c == '%' {
			i += 2
		}
	}
	return len(b)
}

// FuzzSpan checks span against a byte-at-a-time loop for every class.
func FuzzSpan(f *testing.F) {
	for _, s := range []string{"alice", "a%41b", "a%4", "%%41", "Replaces=7a3f9d0e2c%40192.0.2.30%3Bto-tag%3D5f35a3", "x%zz", "abcd%41efgh"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for bit := 0; bit < 16; bit++ {
			class := uint16(1) << bit
			if got, want := span(b, class), spanRef(b, class); got != want {
				t.Fatalf("span(%q, %#x) = %d, want %d", b, class, got, want)
			}
		}
	})
}

// validCallIDRef is the callid rule checked with IndexByte and allOf.
func validCallIDRef(b []byte) bool {
	at := bytes.IndexByte(b, '@')
	if at < 0 {
		return len(b) > 0 && allOf(b, cWord)
	}
	return at > 0 && at < len(b)-1 && allOf(b[:at], cWord) && allOf(b[at+1:], cWord)
}

// FuzzWordChecks checks validCallID and hasDoubleDot against the plain
// forms of their rules.
func FuzzWordChecks(f *testing.F) {
	for _, s := range []string{"3848276298220188511@atlanta.example.com", "a@", "@a", "a@b@c", "a b", "", "x", "presence..winfo", "a.b"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := validCallID(b), validCallIDRef(b); got != want {
			t.Fatalf("validCallID(%q) = %v, want %v", b, got, want)
		}
		if got, want := hasDoubleDot(b), bytes.Contains(b, []byte("..")); got != want {
			t.Fatalf("hasDoubleDot(%q) = %v, want %v", b, got, want)
		}
	})
}

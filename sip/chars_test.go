package sip

import "testing"

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

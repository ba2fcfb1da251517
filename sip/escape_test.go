package sip

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
)

func TestAppendEscaped(t *testing.T) {
	tests := []struct {
		in   string
		c    Component
		want string
	}{
		// RFC 3891 Replaces in a Refer-To header component.
		{"12345@host;to-tag=a;from-tag=b", ComponentHeader, "12345%40host%3Bto-tag%3Da%3Bfrom-tag%3Db"},
		{"a?b/c:d+e$f[g]h&i,j", ComponentHeader, "a?b/c:d+e$f[g]h%26i%2Cj"},
		{"j@s0n", ComponentUser, "j%40s0n"}, // RFC 3261 §19.1.2
		{"alice;day=tuesday?x/&=+$,", ComponentUser, "alice;day=tuesday?x/&=+$,"},
		{"a:b", ComponentUser, "a%3Ab"},
		{"I have spaces", ComponentUser, "I%20have%20spaces"},
		{"pa:ss;w?rd&=+$,", ComponentPassword, "pa%3Ass%3Bw%3Frd&=+$,"},
		{"[2001:db8::1]/&+$;=?", ComponentParam, "[2001:db8::1]/&+$%3B%3D%3F"},
		{"100%", ComponentParam, "100%25"},
		{"-_.!~*'()", ComponentUser, "-_.!~*'()"},
		{"\x00\x7f\x80\xff\"<>", ComponentHeader, "%00%7F%80%FF%22%3C%3E"},
		{"", ComponentUser, ""},
	}
	for _, tt := range tests {
		if got := string(AppendEscaped([]byte("x"), []byte(tt.in), tt.c)); got != "x"+tt.want {
			t.Errorf("AppendEscaped(%q, %d) = %q, want %q", tt.in, tt.c, got[1:], tt.want)
		}
	}

	// The escaped Replaces makes a Refer-To URI that parses and reads back.
	refer := []byte("sip:bob@host?Replaces=")
	refer = AppendEscaped(refer, []byte("12345@host;to-tag=a;from-tag=b"), ComponentHeader)
	var u URI
	if err := u.Parse(refer); err != nil {
		t.Fatalf("Parse(%q): %v", refer, err)
	}
	v, _ := u.Header("Replaces")
	if got, err := Unescape(nil, v); err != nil || string(got) != "12345@host;to-tag=a;from-tag=b" {
		t.Errorf("Replaces reads back as %q, %v", got, err)
	}
}

func TestUnescape(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain", "plain"},
		{"%61lice", "alice"},
		{"sips%3Auser%40example.com", "sips:user@example.com"},
		{"v%61lue%25%34%31", "value%41"},
		{"%00%ff%FF%Aa", "\x00\xff\xff\xaa"},
		{"a%20b%20", "a b "},
	}
	for _, tt := range tests {
		got, err := Unescape([]byte("x"), []byte(tt.in))
		if err != nil || string(got) != "x"+tt.want {
			t.Errorf("Unescape(%q) = %q, %v, want %q", tt.in, got, err, tt.want)
		}
	}
	for _, tt := range []struct {
		in  string
		off int
	}{{"%", 0}, {"%4", 0}, {"a%zz", 1}, {"ab%4g", 2}, {"%41%", 3}, {"%41%g1", 3}} {
		got, err := Unescape([]byte("x"), []byte(tt.in))
		var pe *ParseError
		if !errors.As(err, &pe) || !errors.Is(err, ErrBadURI) || pe.Offset != tt.off || pe.Reason != "bad escape in URI" {
			t.Errorf("Unescape(%q) error = %v, want bad escape at %d", tt.in, err, tt.off)
		}
		if string(got) != "x" {
			t.Errorf("Unescape(%q) = %q on error, want dst unchanged", tt.in, got)
		}
	}
}

func TestEscapeRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(3261, 4475))
	classes := map[Component]uint16{ComponentUser: cUser, ComponentPassword: cPassword, ComponentParam: cParam, ComponentHeader: cHeaderNV}
	src := make([]byte, 0, 64)
	for i := 0; i < 2000; i++ {
		src = src[:0]
		for n := r.IntN(64); n > 0; n-- {
			src = append(src, byte(r.UintN(256)))
		}
		for c, class := range classes {
			esc := AppendEscaped(nil, src, c)
			// Every byte left as is belongs to the component.
			if span(esc, class) != len(esc) {
				t.Fatalf("AppendEscaped(%q, %d) = %q: not all %d-component characters", src, c, esc, c)
			}
			back, err := Unescape(nil, esc)
			if err != nil || !bytes.Equal(back, src) {
				t.Fatalf("Unescape(AppendEscaped(%q, %d)) = %q, %v", src, c, back, err)
			}
			if !escapedEqual(esc, src, false) && !bytes.ContainsAny(src, ";/?:@&=+$,%") {
				t.Fatalf("escapedEqual(%q, %q) = false", esc, src)
			}
		}
	}
}

func TestEscapedEqual(t *testing.T) {
	tests := []struct {
		a, b string
		fold bool
		want bool
	}{
		{"alice", "alice", false, true},
		{"%61lice", "alice", false, true},
		{"%61lice", "%61lice", false, true},
		{"%41lice", "alice", false, false},
		{"%41lice", "alice", true, true},
		{"ALICE", "alice", false, false},
		{"ALICE", "alice", true, true},
		{"a%3Bb", "a;b", false, false}, // ';' is reserved: its escape means something else
		{"a%3Bb", "a%3bb", false, true},
		{"a%40b", "a@b", true, false},
		{"%2541", "%41", false, false},
		{"", "", false, true},
		{"a", "", false, false},
		{"%2", "%2", false, true},
	}
	for _, tt := range tests {
		if got := escapedEqual([]byte(tt.a), tt.b, tt.fold); got != tt.want {
			t.Errorf("escapedEqual(%q, %q, %v) = %v", tt.a, tt.b, tt.fold, got)
		}
		if got := escapedEqual([]byte(tt.b), []byte(tt.a), tt.fold); got != tt.want {
			t.Errorf("escapedEqual(%q, %q, %v) = %v", tt.b, tt.a, tt.fold, got)
		}
	}
}

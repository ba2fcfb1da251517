package sip

import "testing"

// tokenListRef is the rule isTokenList implements, written the slow way:
// split with ListElementEnd, trim, and check each element is a token.
func tokenListRef(v []byte) bool {
	for rest := v; ; {
		end := ListElementEnd(rest)
		if !isTokenString(trimWS(rest[:end])) {
			return false
		}
		if end == len(rest) {
			return true
		}
		rest = rest[end+1:]
	}
}

func TestIsTokenList(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"INVITE, ACK, CANCEL", true},
		{"replaces", true},
		{" a ,b\t,  c ", true},
		{"100rel,timer", true},
		{"a,,b", false},
		{"a,", false},
		{",a", false},
		{"", false},
		{" ", false},
		{"a b", false},
		{`a, "b,c"`, false},
		{"a, <b,c>", false},
		{`"a`, false},
		{"a;b", false},
		{"a,\x00", false},
		{"é", false},
	} {
		if got := isTokenList([]byte(tc.in)); got != tc.want {
			t.Errorf("isTokenList(%q) = %v, want %v", tc.in, got, tc.want)
		}
		if ref := tokenListRef([]byte(tc.in)); ref != tc.want {
			t.Errorf("reference(%q) = %v, want %v", tc.in, ref, tc.want)
		}
	}
}

// FuzzTokenList checks the one-pass token list check against the rule it
// replaces.
func FuzzTokenList(f *testing.F) {
	for _, s := range []string{"INVITE, ACK", `a, "b,c", d`, "a,,b", " x ", "a, <b>"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if got, want := isTokenList(in), tokenListRef(in); got != want {
			t.Fatalf("isTokenList(%q) = %v, reference %v", in, got, want)
		}
	})
}

func TestListElementEnd(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
	}{
		{"a, b", 1},
		{"abc", 3},
		{"<sip:p1;lr>, <sip:p2;lr>", 11},
		{"<sip:a,b>, c", 9},
		{"<sip:a>;x=1, <sip:b>", 11},
		{`"a,b" <sip:x>, y`, 13},
		{`<sip:"a,b>", c`, 14},
		{"<sip:a, b", 9},
		{"<a><b,c", 7},
		{"<a>, <b", 3},
	} {
		if got := ListElementEnd([]byte(tc.in)); got != tc.want {
			t.Errorf("ListElementEnd(%q) = %d, want %d", tc.in, got, tc.want)
		}
		if got := listElementEndSlow([]byte(tc.in)); got != tc.want {
			t.Errorf("listElementEndSlow(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

// FuzzListElementEnd checks the vectorised path of ListElementEnd against
// the byte loop.
func FuzzListElementEnd(f *testing.F) {
	for _, s := range []string{"<sip:p1;lr>, <sip:p2;lr>", `"a,b" <x>, y`, `<sip:"a,b>", c`, "<a><b,c", "a,b"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if got, want := ListElementEnd(in), listElementEndSlow(in); got != want {
			t.Fatalf("ListElementEnd(%q) = %d, byte loop %d", in, got, want)
		}
	})
}

package sip

import (
	"errors"
	"testing"
)

// RFC 3891 §6.1: Replaces = "Replaces" HCOLON callid *(SEMI replaces-param);
// the examples of §6.1, §1 and §7.1, and those of RFC 5589.
func TestReplacesParse(t *testing.T) {
	tests := []struct {
		in, callID, toTag, fromTag string
		earlyOnly                  bool
	}{
		{"98732@sip.example.com\r\n          ;from-tag=r33th4x0r\r\n          ;to-tag=ff87ff", "98732@sip.example.com", "ff87ff", "r33th4x0r", false},
		{"12adf2f34456gs5;to-tag=12345;from-tag=54321;early-only", "12adf2f34456gs5", "12345", "54321", true},
		{"87134@171.161.34.23;to-tag=24796;from-tag=0", "87134@171.161.34.23", "24796", "0", false},
		{"425928@bobster.example.org;to-tag=7743;from-tag=6472", "425928@bobster.example.org", "7743", "6472", false},
		{"425928@phone.example.org\r\n ;to-tag=7743;from-tag=6472;early-only", "425928@phone.example.org", "7743", "6472", true},
		{"090459243588173445;to-tag=7553452;from-tag=31431", "090459243588173445", "7553452", "31431", false},
		{"592435881734450904;to-tag=9m2n3wq;from-tag=763231", "592435881734450904", "9m2n3wq", "763231", false},
		// Parameter names are case-insensitive (RFC 3261 §7.3.1), generic
		// parameters are allowed, whitespace around SEMI and EQUAL too.
		{" a.b-c!%*_+`'~()<>:\\\"/[]?{}@h ; TO-TAG = x ; x-foo=\"a;b\" ; From-Tag=y ; Early-Only ", "a.b-c!%*_+`'~()<>:\\\"/[]?{}@h", "x", "y", true},
	}
	for _, tt := range tests {
		var r Replaces
		if err := r.Parse([]byte(tt.in)); err != nil {
			t.Errorf("Replaces %q: %v", tt.in, err)
			continue
		}
		if string(r.CallID) != tt.callID || string(r.ToTag) != tt.toTag || string(r.FromTag) != tt.fromTag || r.EarlyOnly != tt.earlyOnly {
			t.Errorf("Replaces %q = %q to %q from %q early %v; want %q %q %q %v", tt.in, r.CallID, r.ToTag, r.FromTag, r.EarlyOnly, tt.callID, tt.toTag, tt.fromTag, tt.earlyOnly)
		}
		if !r.Params.Has("to-tag") || !r.Params.Has("from-tag") {
			t.Errorf("Replaces %q: Params %q lacks the tags", tt.in, r.Params)
		}
	}
}

func TestReplacesParseErrors(t *testing.T) {
	tests := []struct{ in, reason string }{
		{"", "bad Call-ID"},
		{"abc", "missing to-tag"},
		{"abc;from-tag=1", "missing to-tag"},
		{"abc;to-tag=1", "missing from-tag"},
		{"abc;to-tag=1;from-tag=2;to-tag=1", "bad parameter"}, // RFC 3891 §6.1: exactly one
		{"abc;to-tag=1;from-tag=2;FROM-TAG=3", "bad parameter"},
		{"abc;to-tag;from-tag=2", "bad to-tag"},
		{"abc;to-tag=\"1\";from-tag=2", "bad to-tag"},
		{"abc;to-tag=1;from-tag=[::1]", "bad from-tag"},
		{"abc;to-tag=1;from-tag=2;early-only=yes", "early-only with a value"},
		{"abc;to-tag=1;from-tag=2;", "bad parameter"},
		{"abc;", "bad parameter"},
		{"abc;;to-tag=1;from-tag=2", "bad parameter"},
		{"abc;to-tag=1;from-tag=2;x=a b", "bad parameter"},
		{";to-tag=1;from-tag=2", "bad Call-ID"},
		{"a@;to-tag=1;from-tag=2", "bad Call-ID"},
		{"@b;to-tag=1;from-tag=2", "bad Call-ID"},
		{"a@b@c;to-tag=1;from-tag=2", "bad Call-ID"},
		{"a b;to-tag=1;from-tag=2", "bad Call-ID"},
		{"a,b;to-tag=1;from-tag=2", "bad Call-ID"},
		{"abc;to-tag=1;from-tag=2, def;to-tag=1;from-tag=2", "bad parameter"},
	}
	for _, tt := range tests {
		var r Replaces
		err := r.Parse([]byte(tt.in))
		var pe *ParseError
		if !errors.As(err, &pe) || !errors.Is(err, ErrBadHeader) || pe.Reason != tt.reason {
			t.Errorf("Replaces %q: %v, want ErrBadHeader %q", tt.in, err, tt.reason)
		}
	}
}

// RFC 3891 §3: to-tag against the local tag, from-tag against the remote
// tag; §6.1: a tag of zero matches tags of zero and null.
func TestReplacesMatch(t *testing.T) {
	var r Replaces
	if err := r.Parse([]byte("425928@bobster.example.org;to-tag=7743;from-tag=6472")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		callID, local, remote string
		want                  bool
	}{
		{"425928@bobster.example.org", "7743", "6472", true},
		{"425928@bobster.example.org", "6472", "7743", false}, // the other UA's view
		{"425928@BOBSTER.example.org", "7743", "6472", false}, // Call-IDs are case-sensitive
		{"425928@bobster.example.org", "7743", "", false},
		{"425928@bobster.example.org", "7743", "64721", false},
		{"", "7743", "6472", false},
	}
	for _, tt := range tests {
		if got := r.Match([]byte(tt.callID), []byte(tt.local), []byte(tt.remote)); got != tt.want {
			t.Errorf("Match(%q, %q, %q) = %v, want %v", tt.callID, tt.local, tt.remote, got, tt.want)
		}
	}
	if err := r.Parse([]byte("87134@171.161.34.23;to-tag=24796;from-tag=0")); err != nil {
		t.Fatal(err)
	}
	for _, remote := range []string{"0", ""} {
		if !r.Match([]byte("87134@171.161.34.23"), []byte("24796"), []byte(remote)) {
			t.Errorf("from-tag=0 does not match remote tag %q", remote)
		}
	}
	if r.Match([]byte("87134@171.161.34.23"), []byte("24796"), []byte("1")) {
		t.Error("from-tag=0 matches remote tag 1")
	}
}

func TestMessageReplaces(t *testing.T) {
	var m Message
	// RFC 3891 §7.1 message *3, whose Replaces is folded.
	if err := Parse(&m, crlf("INVITE sip:alice@phone.example.org SIP/2.0\nTo: <sip:alice@example.org>\nFrom: <sip:bob@example.org>;tag=8983\nCall-ID: 09870@labpc.example.org\nCSeq: 1 INVITE\nContact: <sip:bob@labpc.example.org>\nReplaces: 425928@phone.example.org\n ;to-tag=7743;from-tag=6472;early-only\n\n")); err != nil {
		t.Fatal(err)
	}
	r, err := m.Replaces()
	if err != nil || !r.Match([]byte("425928@phone.example.org"), []byte("7743"), []byte("6472")) || !r.EarlyOnly {
		t.Errorf("Replaces %+v, %v", r, err)
	}

	if err := Parse(&m, crlf("INVITE sip:a@h SIP/2.0\n\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Replaces(); !errors.Is(err, ErrNotFound) {
		t.Errorf("absent Replaces: %v, want ErrNotFound", err)
	}

	// RFC 3891 §3: more than one Replaces is a 400.
	if err := Parse(&m, crlf("INVITE sip:a@h SIP/2.0\nReplaces: a;to-tag=1;from-tag=2\nReplaces: b;to-tag=1;from-tag=2\n\n")); err != nil {
		t.Fatal(err)
	}
	var pe *ParseError
	if _, err := m.Replaces(); !errors.As(err, &pe) || !errors.Is(err, ErrBadHeader) || pe.StatusCode() != 400 {
		t.Errorf("two Replaces: %v, want a 400 ErrBadHeader", err)
	}

	if err := Parse(&m, crlf("INVITE sip:a@h SIP/2.0\nReplaces: a;to-tag=1\n\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Replaces(); !errors.As(err, &pe) || !errors.Is(err, ErrBadHeader) || pe.Reason != "missing from-tag in Replaces" || pe.Offset < 0 {
		t.Errorf("Replaces without from-tag: %v", err)
	}
}

func TestAppendReplaces(t *testing.T) {
	got := AppendReplaces([]byte("Replaces: "), "090459243588173445", "7553452", "31431", false)
	if string(got) != "Replaces: 090459243588173445;to-tag=7553452;from-tag=31431" {
		t.Errorf("AppendReplaces = %q", got)
	}
	got = AppendReplaces(nil, []byte("12adf2f34456gs5"), []byte("12345"), []byte("54321"), true)
	if string(got) != "12adf2f34456gs5;to-tag=12345;from-tag=54321;early-only" {
		t.Errorf("AppendReplaces = %q", got)
	}
	var r Replaces
	if err := r.Parse(got); err != nil || !r.Match([]byte("12adf2f34456gs5"), []byte("12345"), []byte("54321")) || !r.EarlyOnly {
		t.Errorf("AppendReplaces output parses as %+v, %v", r, err)
	}
	// A value cannot inject a header field.
	got = AppendReplaces(nil, "a\r\nVia: x", "1", "2", false)
	if string(got) != "a  Via: x;to-tag=1;from-tag=2" {
		t.Errorf("AppendReplaces = %q", got)
	}
}

func TestReplacesZeroAllocs(t *testing.T) {
	var m Message
	if err := Parse(&m, crlf("INVITE sip:a@h SIP/2.0\nReplaces: 090459243588173445;to-tag=7553452;from-tag=31431;early-only\n\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 0, 256)
	n := testing.AllocsPerRun(100, func() {
		r, err := m.Replaces()
		if err != nil || !r.EarlyOnly {
			t.Fatal(r, err)
		}
		buf = AppendReplaces(buf[:0], r.CallID, r.ToTag, r.FromTag, r.EarlyOnly)
		if !r.Match(r.CallID, r.ToTag, r.FromTag) {
			t.Fatal("no match")
		}
	})
	if n != 0 {
		t.Errorf("%v allocs per run, want 0", n)
	}
}

// FuzzReplaces checks that Parse never panics, that what it accepts has
// the required tags, and that AppendReplaces writes it back to a value
// that parses to the same dialog.
func FuzzReplaces(f *testing.F) {
	for _, s := range []string{
		"98732@sip.example.com ;from-tag=r33th4x0r ;to-tag=ff87ff",
		"12adf2f34456gs5;to-tag=12345;from-tag=54321;early-only",
		"87134@171.161.34.23;to-tag=24796;from-tag=0",
		"a;to-tag=1;from-tag=2;x=\"q;\\\"\";y=[::1]",
		"a;to-tag=1;to-tag=1;from-tag=2", "a;early-only=1", "a;;", "",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var r Replaces
		if r.Parse(in) != nil {
			return
		}
		if !validCallID(r.CallID) || !isTokenString(r.ToTag) || !isTokenString(r.FromTag) {
			t.Fatalf("%q parsed as %+v", in, r)
		}
		if !r.Match(r.CallID, r.ToTag, r.FromTag) {
			t.Fatalf("%q does not match itself", in)
		}
		out := AppendReplaces(nil, r.CallID, r.ToTag, r.FromTag, r.EarlyOnly)
		var back Replaces
		if err := back.Parse(out); err != nil {
			t.Fatalf("%q written as %q: %v", in, out, err)
		}
		if string(back.CallID) != string(r.CallID) || string(back.ToTag) != string(r.ToTag) ||
			string(back.FromTag) != string(r.FromTag) || back.EarlyOnly != r.EarlyOnly {
			t.Fatalf("%q written as %q parses as %+v", in, out, back)
		}
	})
}

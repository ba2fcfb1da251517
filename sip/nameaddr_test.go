package sip

import (
	"errors"
	"testing"
)

// FromTag and ToTag find the same tag as a full NameAddr.Parse, for every
// form of the value: quoted display name holding '<' and ';', token display
// name, addr-spec with and without parameters, SWS around ';' and '='.
func TestHeaderTag(t *testing.T) {
	values := []string{
		`"Bob" <sip:bob@biloxi.example.com>;tag=a6c85cf`,
		`"a<b;tag=x>" <sip:b@h;tag=uri-param-not-header>;tag=real`,
		`Alice <sip:alice@atlanta.example.com>;tag=1928301774;x=y`,
		`sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n`,
		`<sip:b@h>`,
		`sip:b@h`,
		`<sip:b@h;lr>;foo=bar`,
		`<sip:b@h> ; TAG = Mixed`,
	}
	for _, v := range values {
		var n NameAddr
		if err := n.Parse([]byte(v)); err != nil {
			t.Fatalf("%q: %v", v, err)
		}
		if got, want := headerTag([]byte(v)), n.Tag(); string(got) != string(want) || (got == nil) != (want == nil) {
			t.Errorf("%q: headerTag %q, NameAddr.Tag %q", v, got, want)
		}
	}
	var m Message
	if err := Parse(&m, crlf(referRequest)); err != nil {
		t.Fatal(err)
	}
	if string(m.FromTag()) != "1928301774" || string(m.ToTag()) != "a6c85cf" {
		t.Errorf("FromTag %q ToTag %q", m.FromTag(), m.ToTag())
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = m.FromTag(), m.ToTag() }); n != 0 {
		t.Errorf("%v allocs", n)
	}
}

// RFC 3261 §25: tag-param = "tag" EQUAL token, in any case of "tag".
func TestTagNeedsToken(t *testing.T) {
	for _, v := range []string{`<sip:b@h>;tag`, `<sip:b@h>;TAG`, `"" <sip:b@h>;tAg;x=1`, `sip:b@h;tag="q"`} {
		var n NameAddr
		if err := n.Parse([]byte(v)); !errors.Is(err, ErrBadHeader) {
			t.Errorf("%q: %v, want ErrBadHeader", v, err)
		}
	}
	var n NameAddr
	if err := n.Parse([]byte(`<sip:b@h>;Tag=x1`)); err != nil || string(n.Tag()) != "x1" {
		t.Errorf("Tag %q, %v", n.Tag(), err)
	}
}

// FuzzHeaderTag checks that headerTag, which reads a leading token tag
// where it stands, returns what Params.Get finds in the same parameters.
func FuzzHeaderTag(f *testing.F) {
	for _, s := range []string{`"A" <sip:a@b>;tag=9fx`, "<sip:a@b>;tag=x;lr", "sip:a@b;TAG=y", "<sip:a@b>;tag=\"q\"",
		"<sip:a@b>;tag=x ;y", "<sip:a@b>;tag=", "<sip:a@b>;x=1;tag=z", "<sip:a@b>;tag=x,y"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got := headerTag(b)
		want, _ := nameAddrParams(b).Get("tag")
		if string(got) != string(want) || (got == nil) != (want == nil) {
			t.Fatalf("headerTag(%q) = %q, Params.Get %q", b, got, want)
		}
	})
}

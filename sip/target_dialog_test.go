package sip

import (
	"errors"
	"testing"
)

// RFC 4538 §7: Target-Dialog = "Target-Dialog" HCOLON callid
// *(SEMI td-param); td-param = remote-param / local-param / generic-param.
func TestTargetDialogParse(t *testing.T) {
	tests := []struct{ in, callID, local, remote string }{
		// RFC 5589 §6.1 F3, folded as printed, and §7.3 F5.
		{"090459243588173445;local-tag=7553452\r\n ;remote-tag=31kdl4i3k", "090459243588173445", "7553452", "31kdl4i3k"},
		{"592435881734450904;local-tag=9m2n3wq;remote-tag=763231", "592435881734450904", "9m2n3wq", "763231"},
		{"a84b4c76e66710@pc33.atlanta.example.com ; Remote-Tag = r ; x ; LOCAL-TAG=l", "a84b4c76e66710@pc33.atlanta.example.com", "l", "r"},
	}
	for _, tt := range tests {
		var d TargetDialog
		if err := d.Parse([]byte(tt.in)); err != nil {
			t.Errorf("Target-Dialog %q: %v", tt.in, err)
			continue
		}
		if string(d.CallID) != tt.callID || string(d.LocalTag) != tt.local || string(d.RemoteTag) != tt.remote {
			t.Errorf("Target-Dialog %q = %q local %q remote %q; want %q %q %q", tt.in, d.CallID, d.LocalTag, d.RemoteTag, tt.callID, tt.local, tt.remote)
		}
	}

	bad := []struct{ in, reason string }{
		{"", "bad Call-ID"},
		{"abc", "missing local-tag"},
		{"abc;remote-tag=1", "missing local-tag"},
		{"abc;local-tag=1", "missing remote-tag"},
		{"abc;local-tag=1;remote-tag=2;local-tag=1", "bad parameter"},
		{"abc;local-tag=;remote-tag=2", "bad parameter"},
		{"abc;local-tag=\"1\";remote-tag=2", "bad local-tag"},
		{"abc;local-tag=1;remote-tag", "bad remote-tag"},
		{"abc;local-tag=1;remote-tag=2;", "bad parameter"},
		{"a@b@c;local-tag=1;remote-tag=2", "bad Call-ID"},
		{"abc def;local-tag=1;remote-tag=2", "bad Call-ID"},
	}
	for _, tt := range bad {
		var d TargetDialog
		err := d.Parse([]byte(tt.in))
		var pe *ParseError
		if !errors.As(err, &pe) || !errors.Is(err, ErrBadHeader) || pe.Reason != tt.reason {
			t.Errorf("Target-Dialog %q: %v, want ErrBadHeader %q", tt.in, err, tt.reason)
		}
	}
}

// The tags are the recipient's: in RFC 5589 §6.1 the transferee (From tag
// 7553452 in F1) receives local-tag=7553452 from the transferor (To tag
// 31kdl4i3k in F2).
func TestTargetDialogMatch(t *testing.T) {
	var d TargetDialog
	if err := d.Parse([]byte("090459243588173445;local-tag=7553452;remote-tag=31kdl4i3k")); err != nil {
		t.Fatal(err)
	}
	if !d.Match([]byte("090459243588173445"), []byte("7553452"), []byte("31kdl4i3k")) {
		t.Error("the transferee's view of its dialog does not match")
	}
	if d.Match([]byte("090459243588173445"), []byte("31kdl4i3k"), []byte("7553452")) {
		t.Error("the transferor's view matches")
	}
	if d.Match([]byte("090459243588173446"), []byte("7553452"), []byte("31kdl4i3k")) || d.Match([]byte("090459243588173445"), []byte("7553452"), []byte("31KDL4I3K")) {
		t.Error("Match is not byte for byte")
	}
}

func TestMessageTargetDialog(t *testing.T) {
	var m Message
	if err := Parse(&m, crlf("REFER sips:3ld812adkjw@biloxi.example.com;gr=3413kj2ha SIP/2.0\nRefer-To: <sips:transfertarget@chicago.example.com>\nTarget-Dialog: 090459243588173445;local-tag=7553452\n ;remote-tag=31kdl4i3k \n\n")); err != nil {
		t.Fatal(err)
	}
	d, err := m.TargetDialog()
	if err != nil || !d.Match([]byte("090459243588173445"), []byte("7553452"), []byte("31kdl4i3k")) {
		t.Errorf("Target-Dialog %+v, %v", d, err)
	}

	if err := Parse(&m, crlf("REFER sip:a@h SIP/2.0\n\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := m.TargetDialog(); !errors.Is(err, ErrNotFound) {
		t.Errorf("absent Target-Dialog: %v, want ErrNotFound", err)
	}
	if err := Parse(&m, crlf("REFER sip:a@h SIP/2.0\nTarget-Dialog: a;local-tag=1;remote-tag=2\nTarget-Dialog: a;local-tag=1;remote-tag=2\n\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := m.TargetDialog(); !errors.Is(err, ErrBadHeader) {
		t.Errorf("two Target-Dialog: %v, want ErrBadHeader", err)
	}
	if err := Parse(&m, crlf("REFER sip:a@h SIP/2.0\nTarget-Dialog: a;local-tag=1\n\n")); err != nil {
		t.Fatal(err)
	}
	var pe *ParseError
	if _, err := m.TargetDialog(); !errors.As(err, &pe) || pe.Reason != "missing remote-tag in Target-Dialog" {
		t.Errorf("Target-Dialog without remote-tag: %v", err)
	}
}

func TestAppendTargetDialog(t *testing.T) {
	got := AppendTargetDialog([]byte("Target-Dialog: "), "592435881734450904", "9m2n3wq", "763231")
	if string(got) != "Target-Dialog: 592435881734450904;local-tag=9m2n3wq;remote-tag=763231" {
		t.Errorf("AppendTargetDialog = %q", got)
	}
	got = AppendTargetDialog(nil, []byte("c\n"), []byte("l"), []byte("r\r"))
	if string(got) != "c ;local-tag=l;remote-tag=r " {
		t.Errorf("AppendTargetDialog = %q", got)
	}
}

func TestTargetDialogZeroAllocs(t *testing.T) {
	var m Message
	if err := Parse(&m, crlf("REFER sip:a@h SIP/2.0\nTarget-Dialog: 592435881734450904;local-tag=9m2n3wq;remote-tag=763231\n\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 0, 256)
	n := testing.AllocsPerRun(100, func() {
		d, err := m.TargetDialog()
		if err != nil || !d.Match(d.CallID, d.LocalTag, d.RemoteTag) {
			t.Fatal(d, err)
		}
		buf = AppendTargetDialog(buf[:0], d.CallID, d.LocalTag, d.RemoteTag)
	})
	if n != 0 {
		t.Errorf("%v allocs per run, want 0", n)
	}
}

// FuzzTargetDialog checks that Parse never panics, that what it accepts has
// both tags, and that AppendTargetDialog writes it back to a value that
// parses to the same dialog.
func FuzzTargetDialog(f *testing.F) {
	for _, s := range []string{
		"090459243588173445;local-tag=7553452 ;remote-tag=31kdl4i3k",
		"592435881734450904;local-tag=9m2n3wq;remote-tag=763231",
		"a@b;remote-tag=r;local-tag=l;x=\"y;z\"",
		"a;local-tag=1;local-tag=1", "a;", "",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var d TargetDialog
		if d.Parse(in) != nil {
			return
		}
		if !validCallID(d.CallID) || !isTokenString(d.LocalTag) || !isTokenString(d.RemoteTag) {
			t.Fatalf("%q parsed as %+v", in, d)
		}
		out := AppendTargetDialog(nil, d.CallID, d.LocalTag, d.RemoteTag)
		var back TargetDialog
		if err := back.Parse(out); err != nil {
			t.Fatalf("%q written as %q: %v", in, out, err)
		}
		if !back.Match(d.CallID, d.LocalTag, d.RemoteTag) {
			t.Fatalf("%q written as %q parses as %+v", in, out, back)
		}
	})
}

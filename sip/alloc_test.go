package sip

import "testing"

// The hot path makes no heap allocations: parsing into a reused Message,
// reading typed headers, and serializing into a caller's buffer.
func TestZeroAllocs(t *testing.T) {
	msg := crlf(referRequest)
	var m Message
	buf := make([]byte, 0, 4096)
	check := func(name string, f func()) {
		t.Helper()
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s: %v allocs per run, want 0", name, n)
		}
	}
	check("Parse", func() {
		if err := Parse(&m, msg); err != nil {
			t.Fatal(err)
		}
	})
	check("typed headers", func() {
		via, _ := m.TopVia()
		cseq, _ := m.CSeq()
		from, _ := m.From()
		to, _ := m.To()
		ref, _ := m.ReferTo()
		ev, _ := m.Event()
		_, _, _ = m.MaxForwards()
		_ = m.CallID()
		_ = m.HasToken(HeaderSupported, "norefersub")
		if via.Branch == nil || cseq.Seq == 0 || from.Tag() == nil || to.Tag() == nil || ref.URI.Raw == nil || ev.ID == nil {
			t.Fatal("typed header missing")
		}
	})
	check("Validate", func() {
		if err := m.Validate(); err != nil {
			t.Fatal(err)
		}
	})
	check("Values", func() {
		for it := m.Values(HeaderVia); ; {
			if _, ok := it.Next(); !ok {
				break
			}
		}
	})
	check("AppendResponse", func() {
		buf = AppendNoBody(AppendResponse(buf[:0], &m, 202, "", "tag1"))
	})
	check("AppendTo", func() { buf = m.AppendTo(buf[:0]) })
	// A Message declared in a function stays on the stack through parsing
	// and reading typed values (escape analysis is easy to upset).
	check("stack Message", func() {
		var local Message
		if err := Parse(&local, msg); err != nil {
			t.Fatal(err)
		}
		if err := local.Validate(); err != nil {
			t.Fatal(err)
		}
		via, _ := local.TopVia()
		to, _ := local.To()
		if via.Branch == nil || to.Tag() == nil {
			t.Fatal("typed header missing")
		}
	})
}

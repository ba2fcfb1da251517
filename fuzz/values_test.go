package fuzz

import (
	"bytes"
	"testing"

	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/sipfrag"
)

// FuzzURI parses two URIs. For one that parses: every component is a view
// into the input; Equal is reflexive; writing it (as parsed, and again from
// its components alone) and parsing the text gives an Equal URI. For two
// that parse, Equal is symmetric.
func FuzzURI(f *testing.F) {
	seeds := uriSeeds(f)
	for i, s := range seeds {
		f.Add(s, s)
		f.Add(s, seeds[(i+1)%len(seeds)])
	}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		var u sip.URI
		if u.Parse(a) != nil {
			return
		}
		for _, v := range [][]byte{u.SchemeRaw, u.User, u.Password, u.Host, u.Params, u.Headers, u.Opaque, u.Raw} {
			if !within(a, v) {
				t.Fatalf("component %q is not a view into the input", v)
			}
		}
		readURI(&u)
		if !u.Equal(&u) {
			t.Fatalf("%q does not equal itself", a)
		}
		built := u
		built.Raw = nil // AppendTo writes the components
		for _, out := range [][]byte{u.AppendTo(nil), built.AppendTo(nil)} {
			var r sip.URI
			if err := r.Parse(out); err != nil {
				t.Fatalf("%q written as %q does not parse: %v", a, out, err)
			}
			if !u.Equal(&r) || !r.Equal(&u) {
				t.Fatalf("%q written as %q is not Equal", a, out)
			}
		}

		var v sip.URI
		if v.Parse(b) != nil {
			return
		}
		if u.Equal(&v) != v.Equal(&u) {
			t.Fatalf("Equal is not symmetric: %q, %q: %v, %v", a, b, u.Equal(&v), v.Equal(&u))
		}
	})
}

// readURI calls the accessors of u.
func readURI(u *sip.URI) {
	_, _, _, _, _, _ = u.IsSecure(), u.Transport(), u.Maddr(), u.UserParam(), u.LR(), u.Scheme.String()
	_, _ = u.Param("transport")
	_, _ = u.Header("replaces")
	for i := 0; i < len(u.Headers); {
		_, _, i = u.NextHeader(i)
	}
	for q := u.Params; len(q) > 0; {
		_, _, q = q.Next()
	}
}

// FuzzNameAddr parses a From, To, Contact, Route or Refer-To value; on
// success every part is a view into the input.
func FuzzNameAddr(f *testing.F) {
	for _, s := range valueSeeds(f, "from", "f", "to", "t", "contact", "m", "route", "record-route",
		"refer-to", "r", "referred-by", "b", "reply-to") {
		f.Add(s)
	}
	f.Add([]byte("*"))
	f.Add([]byte(`"A \"B\" \\" <sips:a@[::1]:5061;lr>;tag=1;q=0.7;expires=60;x="a;b"`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var n sip.NameAddr
		if n.Parse(data) != nil {
			return
		}
		u := &n.URI
		for _, v := range [][]byte{n.DisplayName, n.Params, u.SchemeRaw, u.User, u.Password, u.Host, u.Params, u.Headers, u.Opaque, u.Raw} {
			if !within(data, v) {
				t.Fatalf("part %q is not a view into the input", v)
			}
		}
		_, _ = n.Tag(), n.URI.String()
		_, _ = n.Expires()
		// The fast tag path of transaction and dialog matching must agree
		// with the full parse wherever the full parse accepts the value.
		if bytes.IndexByte(data, '\r') < 0 && bytes.IndexByte(data, '\n') < 0 {
			msg := append([]byte("OPTIONS sip:a@b SIP/2.0\r\nFrom: "), data...)
			msg = append(msg, "\r\n\r\n"...)
			var m sip.Message
			if sip.Parse(&m, msg) == nil {
				if got, want := m.FromTag(), n.Tag(); !bytes.Equal(got, want) || (got == nil) != (want == nil) {
					t.Fatalf("FromTag %q, NameAddr.Tag %q", got, want)
				}
			}
		}
		for q := n.Params; len(q) > 0; {
			_, _, q = q.Next()
		}
		readURI(u)
	})
}

// FuzzVia parses a Via value; on success every part is a view into the
// input.
func FuzzVia(f *testing.F) {
	for _, s := range valueSeeds(f, "via", "v") {
		f.Add(s)
	}
	f.Add([]byte("SIP / 2.0 / TLS [2001:db8::1]:5061 ; received=2001:db8::2 ; rport=5062 ; maddr=224.2.0.1 ; ttl=16 ; branch=z9hG4bKx"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var v sip.Via
		if v.Parse(data) != nil {
			return
		}
		for _, p := range [][]byte{v.ProtocolName, v.ProtocolVersion, v.Transport, v.Host, v.Branch, v.Received, v.Maddr, v.TTL, v.Params} {
			if !within(data, p) {
				t.Fatalf("part %q is not a view into the input", p)
			}
		}
		_ = v.IsRFC3261Branch()
		for q := v.Params; len(q) > 0; {
			_, _, q = q.Next()
		}
	})
}

// FuzzSipfrag parses a message/sipfrag body with sipfrag.Parse and
// sipfrag.Status, which must agree: Status succeeds exactly when Parse does
// and finds a status line, and reports its code and reason. A fragment that
// parses survives AppendTo and ParseFragment unchanged.
func FuzzSipfrag(f *testing.F) {
	for _, s := range messageSeeds(f) {
		f.Add(s)
	}
	for _, s := range []string{"SIP/2.0 100 Trying\r\n", "SIP/2.0 200 OK", "SIP/2.0 503 Service Unavailable\r\nRetry-After: 30\r\n\r\n",
		"INVITE sip:bob@biloxi.example.com SIP/2.0\r\nCall-ID: a@b\r\n", "From: <sip:a@b>;tag=1\n", "SIP/2.0 603\r\n\r\nbody"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var m sip.Message
		in := bytes.Clone(data)
		err := sipfrag.Parse(&m, in)
		code, reason, serr := sipfrag.Status(bytes.Clone(data))
		switch {
		case err != nil && serr == nil:
			t.Fatalf("Parse: %v; Status succeeds", err)
		case err == nil && m.StatusCode() == 0 && serr == nil:
			t.Fatal("Status succeeds on a fragment without a status line")
		case err == nil && m.StatusCode() != 0 && (serr != nil || code != m.StatusCode() || !bytes.Equal(reason, m.Reason())):
			t.Fatalf("Parse: %d %q; Status: %d %q %v", m.StatusCode(), m.Reason(), code, reason, serr)
		}
		if err != nil {
			return
		}
		if !within(in, m.Bytes()) || !within(in, m.Body()) {
			t.Fatal("Bytes or Body is not a view into the input")
		}
		readEverything(&m)

		// AppendTo writes a fragment back as it was parsed (see FuzzRoundTrip).
		out := m.AppendTo(nil)
		var again sip.Message
		if err := unlimited.ParseFragment(&again, out); err != nil {
			t.Fatalf("AppendTo output does not parse: %v\ninput  %q\noutput %q", err, data, out)
		}
		if d := diffRoundTrip(&m, &again); d != "" {
			t.Fatalf("round trip changed the %s\ninput  %q\noutput %q", d, data, out)
		}
		var ct sip.ContentType
		if ct.Parse(data) == nil {
			_ = sipfrag.IsContentType(&ct)
		}
	})
}

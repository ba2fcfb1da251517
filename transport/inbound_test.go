package transport

import (
	"strings"
	"testing"
	"time"

	"github.com/sipxfer/sipxfer/sip"
)

// memPair is a server and a client Layer on one in-memory network, the
// client's recorder receiving what the server sends back.
type memPair struct {
	n              *Network
	server, client *Layer
	srv, cli       *recorder
	dst, src       Addr
}

func newMemPair(t *testing.T, scfg Config) *memPair {
	p := &memPair{n: NewNetwork(NewFakeClock(time.Unix(0, 0)), 1), srv: newRecorder(), cli: newRecorder()}
	p.server = newLayer(t, scfg, p.srv)
	p.srv.layer = p.server
	p.client = newLayer(t, Config{}, p.cli)
	p.dst = must[Addr](t)(p.server.ListenMem(p.n, mustAddr(t, UDP, "192.0.2.2:5060")))
	p.src = must[Addr](t)(p.client.ListenMem(p.n, mustAddr(t, UDP, "192.0.2.1:5060")))
	return p
}

const goodHeaders = "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKbad1;rport\n" +
	"Max-Forwards: 70\nFrom: <sip:alice@192.0.2.1>;tag=a1\nTo: <sip:bob@192.0.2.2>\n" +
	"Call-ID: bad1@192.0.2.1\nCSeq: 7 OPTIONS\n"

// Requests that parse far enough to be answered get the status and
// reason the sip package gives the problem, routed back to the sender;
// the rest are dropped and counted.
func TestBadRequestsAnswered(t *testing.T) {
	for _, tc := range []struct {
		name, msg, status string
	}{
		{"bad second Via",
			"OPTIONS sip:bob@192.0.2.2 SIP/2.0\n" + goodHeaders + "Via: SIP/2.0/UDP bad host\nContent-Length: 0\n\n",
			"SIP/2.0 400 Bad Request (bad Via parameter in Via)"},
		{"two Call-IDs",
			"OPTIONS sip:bob@192.0.2.2 SIP/2.0\n" + goodHeaders + "Call-ID: other@192.0.2.1\nContent-Length: 0\n\n",
			"SIP/2.0 400 Bad Request (more than one Call-ID)"},
		{"CSeq method mismatch",
			"INVITE sip:bob@192.0.2.2 SIP/2.0\n" + goodHeaders + "Content-Length: 0\n\n",
			"SIP/2.0 400 Bad Request (CSeq method does not match request method)"},
		{"SIP/3.0",
			"OPTIONS sip:bob@192.0.2.2 SIP/3.0\n" + goodHeaders + "Content-Length: 0\n\n",
			"SIP/2.0 505 Version Not Supported"},
		{"bad Request-URI",
			"OPTIONS sip:bob@[192.0.2.2 SIP/2.0\n" + goodHeaders + "Content-Length: 0\n\n",
			"SIP/2.0 400 Bad Request (bad host in Request-URI)"},
		// Limits of the parser: answered, not dropped.
		{"too many header fields",
			"OPTIONS sip:bob@192.0.2.2 SIP/2.0\n" + goodHeaders + strings.Repeat("X-Pad: 1\n", 130) + "Content-Length: 0\n\n",
			"SIP/2.0 400 Bad Request (too many header fields)"},
		{"header line too long",
			"OPTIONS sip:bob@192.0.2.2 SIP/2.0\n" + goodHeaders + "Subject: " + strings.Repeat("x", 9000) + "\nContent-Length: 0\n\n",
			"SIP/2.0 400 Bad Request (header line too long)"},
		// RFC 3261 §21.4.12: over sip.DefaultMaxURILength.
		{"Request-URI too long",
			"OPTIONS sip:" + strings.Repeat("b", 3000) + "@192.0.2.2 SIP/2.0\n" + goodHeaders + "Content-Length: 0\n\n",
			"SIP/2.0 414 Request-URI Too Long"},
		// RFC 3261 §8.2.2.1, RFC 4475 §3.3.2: a scheme the UAS does not
		// support gets 416.
		{"unknown Request-URI scheme",
			"OPTIONS foo:bar SIP/2.0\n" + goodHeaders + "Content-Length: 0\n\n",
			"SIP/2.0 416 Unsupported URI Scheme"},
		// RFC 3261 §18.3, RFC 4475 §3.1.2.3 and §3.3.9: a Content-Length
		// that is negative, not a number or repeated frames nothing: 400.
		{"negative Content-Length",
			"OPTIONS sip:bob@192.0.2.2 SIP/2.0\n" + goodHeaders + "Content-Length: -999\n\nbody",
			"SIP/2.0 400 Bad Request (bad Content-Length value)"},
		{"non-numeric Content-Length",
			"OPTIONS sip:bob@192.0.2.2 SIP/2.0\n" + goodHeaders + "Content-Length: five\n\nbody",
			"SIP/2.0 400 Bad Request (bad Content-Length value)"},
		{"repeated Content-Length",
			"OPTIONS sip:bob@192.0.2.2 SIP/2.0\n" + goodHeaders + "Content-Length: 4\nl: 2\n\nbody",
			"SIP/2.0 400 Bad Request (more than one Content-Length)"},
		// RFC 3261 §18.3: the datagram ends before the body does.
		{"Content-Length beyond the datagram",
			"OPTIONS sip:bob@192.0.2.2 SIP/2.0\n" + goodHeaders + "Content-Length: 50\n\nshort",
			"SIP/2.0 400 Bad Request (Content-Length larger than message)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newMemPair(t, Config{})
			var sent []string // what the server sent, seen on the network
			p.n.trace = func(from, _ Addr, b []byte) {
				if from == p.dst {
					sent = append(sent, string(b))
				}
			}
			if err := p.client.Send(p.dst, raw(tc.msg)); err != nil {
				t.Fatal(err)
			}
			p.srv.none(t)
			if len(sent) != 1 {
				t.Fatalf("server sent %q", sent)
			}
			var m sip.Message
			if err := sip.Parse(&m, []byte(sent[0])); err != nil {
				t.Fatal(err)
			}
			g := got{raw: sent[0]}
			it := m.Values(sip.HeaderVia)
			if v, ok := it.Next(); ok {
				g.topVia = string(v)
			}
			first, _, _ := strings.Cut(g.raw, "\r\n")
			if first != tc.status {
				t.Errorf("got %q, want %q", first, tc.status)
			}
			to, _ := m.To()
			if len(to.Tag()) < 8 || string(m.CallID()) != "bad1@192.0.2.1" {
				t.Errorf("response lacks To tag or Call-ID:\n%s", g.raw)
			}
			// The Via went back stamped, as the server received it.
			if g.topVia != "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKbad1;rport=5060;received=192.0.2.1" {
				t.Errorf("Via %q", g.topVia)
			}
			if st := p.server.Stats(); st.Rejected != 1 || st.Received != 0 {
				t.Errorf("server stats %+v", st)
			}
		})
	}
}

func TestBadInputDropped(t *testing.T) {
	for _, tc := range []struct {
		name, msg string
		check     func(Stats) bool
	}{
		{"garbage", "\x16\x03\x01 not SIP at all\n\n",
			func(s Stats) bool { return s.ParseErrors == 1 && s.DroppedRequests == 1 }},
		{"no Call-ID", "OPTIONS sip:bob@192.0.2.2 SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\nFrom: <sip:a@x>;tag=1\nTo: <sip:b@x>\nCSeq: 1 OPTIONS\n\n",
			func(s Stats) bool { return s.Invalid == 1 && s.DroppedRequests == 1 }},
		{"bad top Via", "OPTIONS sip:bob@192.0.2.2 SIP/2.0\nVia: SIP/2.0/UDP\nFrom: <sip:a@x>;tag=1\nTo: <sip:b@x>\nCall-ID: c\nCSeq: 1 OPTIONS\n\n",
			func(s Stats) bool { return s.Invalid == 1 && s.DroppedRequests == 1 }},
		{"bad ACK", "ACK sip:bob@192.0.2.2 SIP/2.0\n" + strings.Replace(goodHeaders, "OPTIONS", "ACK", 1) + "Call-ID: two\n\n",
			func(s Stats) bool { return s.Invalid == 1 && s.DroppedRequests == 1 }},
		{"unparsable ACK", "ACK sip:bob@192.0.2.2 SIP/3.0\n" + strings.Replace(goodHeaders, "OPTIONS", "ACK", 1) + "\n",
			func(s Stats) bool { return s.ParseErrors == 1 && s.DroppedRequests == 1 }},
		{"bad header line", "OPTIONS sip:bob@192.0.2.2 SIP/2.0\n" + goodHeaders + "no colon here\n\n",
			func(s Stats) bool { return s.ParseErrors == 1 && s.DroppedRequests == 1 }},
		{"unparsable response", "SIP/2.0 2000 OK\n" + goodHeaders + "\n",
			func(s Stats) bool { return s.ParseErrors == 1 && s.DroppedResponses == 1 }},
		{"invalid response", "SIP/2.0 200 OK\n" + goodHeaders + "CSeq: 8 OPTIONS\n\n",
			func(s Stats) bool { return s.Invalid == 1 && s.DroppedResponses == 1 }},
		// RFC 3261 §18.1.2: not our sent-by.
		{"foreign response", "SIP/2.0 200 OK\n" + strings.Replace(goodHeaders, "192.0.2.1:5060", "192.0.2.1:5999", 1) + "\n",
			func(s Stats) bool { return s.Invalid == 0 && s.DroppedResponses == 1 }},
		{"keep-alive", "\n\n", func(s Stats) bool { return s.KeepAlives == 1 && s.ParseErrors == 0 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newMemPair(t, Config{})
			// The client sends the input, and the server is its target.
			if err := p.client.Send(p.dst, raw(tc.msg)); err != nil {
				t.Fatal(err)
			}
			p.srv.none(t)
			p.cli.none(t)
			if st := p.server.Stats(); !tc.check(st) || st.Received != 0 || st.Rejected != 0 {
				t.Errorf("server stats %+v", st)
			}
		})
	}
}

// A response whose top Via names us reaches the Handler; the same via a
// Layer with Config.Host matches by name.
func TestResponseSentByAccepted(t *testing.T) {
	p := newMemPair(t, Config{Host: "server.example.com"})
	resp := "SIP/2.0 200 OK\n" + strings.Replace(goodHeaders, "192.0.2.1:5060", "server.example.com:5060", 1) + "\n"
	if err := p.client.Send(p.dst, raw(resp)); err != nil {
		t.Fatal(err)
	}
	if g := p.srv.next(t); g.status != 200 {
		t.Errorf("got %+v", g)
	}
	resp = "SIP/2.0 200 OK\n" + strings.Replace(goodHeaders, "192.0.2.1:5060", "192.0.2.2", 1) + "\n"
	if err := p.client.Send(p.dst, raw(resp)); err != nil {
		t.Fatal(err)
	}
	if g := p.srv.next(t); g.status != 200 {
		t.Errorf("got %+v", g)
	}
}

// 513 for a request over the Parser's size limit, when its header fields
// can still be read.
func TestTooLargeRequest(t *testing.T) {
	p := newMemPair(t, Config{Parser: sip.Parser{MaxMessageSize: 400}})
	msg := "OPTIONS sip:bob@192.0.2.2 SIP/2.0\n" + goodHeaders + "Content-Length: 300\n\n" + strings.Repeat("x", 300)
	if err := p.client.Send(p.dst, raw(msg)); err != nil {
		t.Fatal(err)
	}
	g := p.cli.next(t)
	if !strings.HasPrefix(g.raw, "SIP/2.0 513 Message Too Large\r\n") {
		t.Errorf("got %s", g.raw)
	}
}

// The receive path (pooled buffer, parse, stamping the Via, parsing again,
// Validate, Handler) and SendResponse allocate nothing.
func TestReceiveZeroAllocs(t *testing.T) {
	n := NewNetwork(NewFakeClock(time.Unix(0, 0)), 1)
	var out []byte
	var server *Layer
	answered := 0
	server = newLayer(t, Config{}, HandlerFunc(func(in *Inbound) {
		out = sip.AppendResponse(out[:0], in.Msg, 200, "", "tag")
		out = sip.AppendNoBody(out)
		if server.SendResponse(in.Reply, out) == nil {
			answered++
		}
	}))
	dst := must[Addr](t)(server.ListenMem(n, mustAddr(t, UDP, "192.0.2.2:5060")))
	got := 0
	client := newLayer(t, Config{}, HandlerFunc(func(in *Inbound) { got++ }))
	must[Addr](t)(client.ListenMem(n, mustAddr(t, UDP, "192.0.2.1:5060")))
	wire, _, err := client.SendRequest(dst, []byte("z9hG4bKalloc"), request("OPTIONS", "sip:bob@192.0.2.2"))
	if err != nil {
		t.Fatal(err)
	}
	if allocs := testing.AllocsPerRun(200, func() {
		if err := client.Send(dst, wire); err != nil {
			t.Fatal(err)
		}
	}); allocs != 0 && !raceEnabled {
		t.Errorf("%v allocs per request and response", allocs)
	}
	if answered != got || got < 200 {
		t.Errorf("answered %d, client got %d", answered, got)
	}
}

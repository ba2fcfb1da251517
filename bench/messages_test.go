package bench

import (
	"bytes"
	"testing"

	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/sipfrag"
)

// TestMessages checks the benchmark messages are what they claim to be:
// each parses as a datagram and from a stream, validates, has a body of
// exactly Content-Length bytes, and is written back byte for byte by
// AppendTo (they use long names and put Content-Length last, as AppendTo
// does).
func TestMessages(t *testing.T) {
	for _, msg := range messages {
		t.Run(msg.name, func(t *testing.T) {
			in := []byte(msg.text)
			var m sip.Message
			if err := sip.Parse(&m, in); err != nil {
				t.Fatal(err)
			}
			if err := m.Validate(); err != nil {
				t.Fatal(err)
			}
			if got, want := len(m.Body()), m.ContentLength(); got != want {
				t.Errorf("body of %d bytes, Content-Length %d", got, want)
			}
			if n, err := new(sip.Parser).Frame(in); err != nil || n != len(in) {
				t.Errorf("Frame = %d, %v; want %d", n, err, len(in))
			}
			if err := new(sip.Parser).ParseStream(&m, in); err != nil {
				t.Errorf("ParseStream: %v", err)
			}
			if out := m.AppendTo(nil); !bytes.Equal(out, in) {
				t.Errorf("AppendTo wrote\n%s", out)
			}
			if _, err := readTxKey(&m, in); err != nil {
				t.Errorf("transaction key: %v", err)
			}
		})
	}
	if n := len(Invite); n < 900 || n > 1100 {
		t.Errorf("Invite has %d bytes, want about 1 KB", n)
	}
}

func TestReadRefer(t *testing.T) {
	var m sip.Message
	if err := sip.Parse(&m, []byte(Refer)); err != nil {
		t.Fatal(err)
	}
	r, err := readRefer(&m, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(r.replaces), "7a3f9d0e2c@192.0.2.30;to-tag=5f35a3;from-tag=8675309"; got != want {
		t.Errorf("Replaces %q, want %q", got, want)
	}
	if got := string(r.referredBy); got != "sip:alice@atlanta.example.com" {
		t.Errorf("Referred-By %q", got)
	}
	if !m.HasToken(sip.HeaderSupported, "replaces") || !m.HasToken(sip.HeaderSupported, "norefersub") {
		t.Error("Supported lacks replaces or norefersub")
	}
}

func TestNotifySipfrag(t *testing.T) {
	var m sip.Message
	if err := sip.Parse(&m, []byte(Notify)); err != nil {
		t.Fatal(err)
	}
	ev, err := m.Event()
	if err != nil || !ev.Is("refer") || string(ev.ID) != "314161" {
		t.Errorf("Event %q id %q, %v", ev.Type, ev.ID, err)
	}
	st, err := m.SubscriptionState()
	if err != nil || !st.Is("active") || st.Expires != 60 {
		t.Errorf("Subscription-State %q expires %d, %v", st.State, st.Expires, err)
	}
	ct, err := m.ContentType()
	if err != nil || !sipfrag.IsContentType(&ct) {
		t.Errorf("Content-Type %q/%q, %v", ct.Type, ct.Subtype, err)
	}
	if code, err := fragStatus(m.Body()); code != 100 || err != nil {
		t.Errorf("sipfrag status %d, %v", code, err)
	}
}

// TestBuilders checks the built REFER is Refer exactly and the built 200
// answers the INVITE.
func TestBuilders(t *testing.T) {
	if got := appendRefer(nil); string(got) != Refer {
		t.Errorf("appendRefer wrote\n%s", got)
	}
	var inv, ok sip.Message
	if err := sip.Parse(&inv, []byte(Invite)); err != nil {
		t.Fatal(err)
	}
	resp := appendOK(nil, &inv)
	if err := sip.Parse(&ok, resp); err != nil {
		t.Fatal(err)
	}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	want, err := readTxKey(&inv, []byte(Invite))
	if err != nil {
		t.Fatal(err)
	}
	got, err := readTxKey(&ok, resp)
	if err != nil {
		t.Fatal(err)
	}
	if ok.StatusCode() != 200 || string(got.branch) != string(want.branch) || got.seq != want.seq ||
		string(got.callID) != string(want.callID) || string(got.toTag) != "a6c85cf" {
		t.Errorf("200 OK %d, key %+v", ok.StatusCode(), got)
	}
}

// TestAccess checks what receive and parseAccess read from each message,
// so that the benchmarks measure reads that find their values.
func TestAccess(t *testing.T) {
	want := map[string]access{
		"invite": {txKey: txKey{branch: []byte("z9hG4bK.8f2a61c04d"), fromTag: []byte("9fxced76sl"), seq: 314159},
			contact: []byte("sip:alice@192.0.2.10:5060;transport=udp")},
		"refer": {txKey: txKey{branch: []byte("z9hG4bK.3e1d7a9b02"), fromTag: []byte("9fxced76sl"), toTag: []byte("a6c85cf"), seq: 314161},
			contact: []byte("sip:alice@192.0.2.10:5060;transport=udp"),
			referTo: []byte("sip:carol@192.0.2.30?Replaces=7a3f9d0e2c%40192.0.2.30%3Bto-tag%3D5f35a3%3Bfrom-tag%3D8675309"),
			event:   []byte("refer")},
		"notify": {txKey: txKey{branch: []byte("z9hG4bK.c4b1e98f17"), fromTag: []byte("a6c85cf"), toTag: []byte("9fxced76sl"), seq: 1002},
			contact: []byte("sip:bob@192.0.2.20:5060;transport=udp"),
			event:   []byte("refer"), eventID: []byte("314161"), subState: []byte("active"), expires: 60},
		"ok200": {txKey: txKey{branch: []byte("z9hG4bK.8f2a61c04d"), fromTag: []byte("9fxced76sl"), toTag: []byte("a6c85cf"), seq: 314159},
			contact: []byte("sip:bob@192.0.2.20:5060;transport=udp")},
	}
	for _, msg := range messages {
		t.Run(msg.name, func(t *testing.T) {
			var m sip.Message
			a, err := parseAccess(&m, []byte(msg.text))
			if err != nil {
				t.Fatal(err)
			}
			k, err := receive(&m, []byte(msg.text))
			if err != nil {
				t.Fatal(err)
			}
			w := want[msg.name]
			for _, c := range []struct{ name, got, want string }{
				{"branch", string(a.branch), string(w.branch)},
				{"receive branch", string(k.branch), string(w.branch)},
				{"from tag", string(a.fromTag), string(w.fromTag)},
				{"receive from tag", string(k.fromTag), string(w.fromTag)},
				{"to tag", string(a.toTag), string(w.toTag)},
				{"receive to tag", string(k.toTag), string(w.toTag)},
				{"call-id", string(a.callID), "3848276298220188511@atlanta.example.com"},
				{"contact", string(a.contact), string(w.contact)},
				{"refer-to", string(a.referTo), string(w.referTo)},
				{"event", string(a.event), string(w.event)},
				{"event id", string(a.eventID), string(w.eventID)},
				{"subscription state", string(a.subState), string(w.subState)},
			} {
				if c.got != c.want {
					t.Errorf("%s %q, want %q", c.name, c.got, c.want)
				}
			}
			if a.seq != w.seq || k.seq != w.seq || a.expires != w.expires {
				t.Errorf("CSeq %d/%d, expires %d; want %d, %d", a.seq, k.seq, a.expires, w.seq, w.expires)
			}
		})
	}
}

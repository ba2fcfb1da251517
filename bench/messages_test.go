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

package dialog

import (
	"testing"

	"github.com/sipxfer/sipxfer/sip"
)

// Delayed offer (RFC 3264 §4, RFC 3261 §13.2.2.4): an INVITE without a
// session description gets the offer in the 2xx, and the answer the
// application returns from OnOffer goes in the ACK, on the wire.
func TestDelayedOfferAnswerInACK(t *testing.T) {
	w := newWorld(t)
	alice := w.ua("alice", 5060, Config{})
	bob := w.peer(5080)
	const answerSDP = "v=0\r\no=- 2 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\n"
	var gotType, gotOffer string
	c, err := alice.Dial("sip:bob@127.0.0.1:5080", &CallOptions{OnOffer: func(_ *Call, ct string, offer []byte) (string, []byte) {
		gotType, gotOffer = ct, string(offer)
		return "application/sdp", []byte(answerSDP)
	}})
	if err != nil {
		t.Fatal(err)
	}
	inv := bob.Expect("INVITE")
	if len(inv.Msg.Body()) != 0 {
		t.Fatalf("INVITE carries a body: %q", inv.Msg.Body())
	}
	b := sip.AppendResponse(nil, inv.Msg, 200, "", "b")
	b = append(b, "Contact: <sip:peer@127.0.0.1:5080>\r\n"...)
	b = sip.AppendBody(b, "application/sdp", []byte(sdp))
	if err := bob.Layer.SendResponse(inv.Reply, b); err != nil {
		t.Fatal(err)
	}
	ack := bob.Expect("ACK")
	if ct := string(ack.Msg.Get(sip.HeaderContentType)); ct != "application/sdp" || string(ack.Msg.Body()) != answerSDP {
		t.Fatalf("ACK Content-Type %q body %q, want the answer", ct, ack.Msg.Body())
	}
	if gotType != "application/sdp" || gotOffer != sdp {
		t.Errorf("OnOffer saw %q %q, want the 2xx's offer", gotType, gotOffer)
	}
	if string(c.LocalBody()) != answerSDP || string(c.RemoteBody()) != sdp || c.State() != CallEstablished {
		t.Errorf("call %v local %q remote %q", c.State(), c.LocalBody(), c.RemoteBody())
	}
	// A retransmitted 2xx gets the same ACK, answer included.
	if err := bob.Layer.SendResponse(inv.Reply, b); err != nil {
		t.Fatal(err)
	}
	if again := bob.Expect("ACK"); string(again.Msg.Body()) != answerSDP {
		t.Errorf("ACK again without the answer: %q", again.Msg.Body())
	}
}

package refer

import (
	"testing"

	"github.com/sipxfer/sipxfer/dialog"
	"github.com/sipxfer/sipxfer/sip"
)

// The transferee's INVITE to the Refer-To target carries what the
// application builds per REFER through Config.CallOptions: here a delayed
// offer, no body, with the answer to the target's offer in the ACK.
func TestReferredCallDelayedOffer(t *testing.T) {
	s := newStage(t)
	const answer = "v=0\r\no=- 9 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4002 RTP/AVP 0\r\n"
	var referred []string
	bobCfg := Config{CallOptions: func(in *Incoming) *dialog.CallOptions {
		referred = append(referred, string(in.Target.URI().Raw)) // per REFER: the application sees its target
		return &dialog.CallOptions{OnOffer: func(*dialog.Call, string, []byte) (string, []byte) {
			return "application/sdp", []byte(answer)
		}}
	}}
	alice, bob, carol := s.add("Alice", 5060, Config{}), s.add("Bob", 5070, bobCfg), s.add("Carol", 5080, Config{})
	ac, _ := s.call(alice, bob)
	mark := s.wire.mark()
	tr, err := alice.agent.Refer(ac.Dialog(), &ReferOptions{ReferTo: "<" + carol.uri() + ">"})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := tr.Wait(bg()); err != nil || res.Code != 200 {
		t.Fatalf("transfer %+v %v", res, err)
	}
	inv := s.wire.find(mark, "Bob>Carol INVITE")
	ack := s.wire.find(mark, "Bob>Carol ACK")
	if inv == nil || ack == nil {
		t.Fatal("no INVITE or ACK from Bob to Carol")
	}
	if len(inv.Body()) != 0 {
		t.Errorf("INVITE body %q, want none (delayed offer)", inv.Body())
	}
	if string(ack.Body()) != answer || string(ack.Get(sip.HeaderContentType)) != "application/sdp" {
		t.Errorf("ACK body %q, want the answer", ack.Body())
	}
	if len(referred) != 1 || referred[0] != carol.uri() {
		t.Errorf("CallOptions saw %q", referred)
	}
}

package refer

import (
	"testing"

	"github.com/sipxfer/sipxfer/dialog"
)

// linphone 5.1 as transferee ends its refer subscription with
// "Subscription-State: terminated;reason=reason=noresource" (seen in the
// interop script .ci/interop/linphone.sh). The state is clear, the reason
// malformed: the transferor answers the NOTIFY 200 and takes it as the
// final one (RFC 6665 §4.1.3: an unknown reason counts as none), so the
// transfer ends with the sipfrag's 200. Its other NOTIFYs are replayed as
// sent: Event refer without id, active without expires.
func TestLinphoneNotifies(t *testing.T) {
	s := newStage(t)
	alice, bob := s.add("Alice", 5060, Config{}), s.add("Bob", 5070, Config{NoAutoCall: true})
	ab, _ := s.call(alice, bob)
	var progress progressLog
	tr, err := alice.agent.Refer(ab.Dialog(), &ReferOptions{ReferTo: "<sip:carol@127.0.0.1>", OnProgress: progress.add})
	if err != nil {
		t.Fatal(err)
	}
	in := <-bob.refers
	notify := func(state, body string) int {
		t.Helper()
		resp, err := in.Dialog.Do(bg(), "NOTIFY", &dialog.RequestOptions{
			Headers:     []dialog.Header{{Name: "Event", Value: "refer"}, {Name: "Subscription-State", Value: state}},
			ContentType: "message/sipfrag", Body: []byte(body),
		})
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode()
	}
	if code := notify("active", "SIP/2.0 180 Ringing\r\n"); code != 200 {
		t.Errorf("NOTIFY active, sipfrag 180: %d, want 200", code)
	}
	if code := notify("terminated;reason=reason=noresource", "SIP/2.0 200 Ok\r\n"); code != 200 {
		t.Errorf("NOTIFY terminated;reason=reason=noresource: %d, want 200", code)
	}
	if res := tr.Result(); res.Code != 200 || res.Err != nil || res.ReferCode != 200 {
		t.Errorf("result %+v, want 200 after 200", res)
	}
	if got, want := progress.String(), "accepted 200, notified 100 active, notified 180 active, notified 200 terminated, done 200"; got != want {
		t.Errorf("progress %s, want %s", got, want)
	}
}

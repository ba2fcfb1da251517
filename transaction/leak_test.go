package transaction

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transport"
)

// TestNoLeaks runs every kind of transaction between two Managers, over
// UDP and TCP (answered at once, late, never in time; INVITEs rejected,
// accepted and ACKed by the TU, cancelled, with the ACK lost; transport
// failures), and checks that once they have all ended both tables are
// empty and no timer is pending.
func TestNoLeaks(t *testing.T) {
	for _, proto := range []transport.Protocol{transport.UDP, transport.TCP} {
		t.Run(proto.String(), func(t *testing.T) { leakRun(t, proto) })
	}
}

func leakRun(t *testing.T, proto transport.Protocol) {
	p := newPair(t, proto)
	p.latency = func(sent) time.Duration { return 20 * time.Millisecond }
	boom := errors.New("boom")
	// The behaviour of the server TU and of the link depends on the
	// request's Call-ID prefix.
	kind := func(m *sip.Message) string { k, _, _ := strings.Cut(string(m.CallID()), "-"); return k }
	p.drop = func(s sent) bool {
		return strings.Contains(s.Wire, "Call-ID: lostack-") && strings.HasPrefix(s.Wire, "ACK ")
	}
	p.client.tp.fail = func(s sent) error {
		if s.Kind == "send" && strings.Contains(s.Wire, "Call-ID: failing-") {
			return boom
		}
		return nil
	}
	var cancels []*ServerTx
	p.server.rec.onRequest = func(tx *ServerTx, req *sip.Message) {
		r := req.Clone()
		switch kind(req) {
		case "ok":
			tx.Respond(buildResponse(req, 200))
		case "late", "failing": // after the client's Timer F
			p.clock.AfterFunc(40*time.Second, func() { tx.Respond(buildResponse(r, 200)) })
		case "reject", "lostack":
			tx.Respond(buildResponse(req, 180))
			tx.Respond(buildResponse(req, 486))
		case "accept":
			tx.Respond(buildResponse(req, 200))
		case "cancel":
			tx.Respond(buildResponse(req, 180))
			cancels = append(cancels, tx)
		}
	}
	var inviteOf = map[*ServerTx]*sip.Message{}
	p.server.rec.onCancel = func(tx *ServerTx, _ *sip.Message) {
		if err := tx.Respond(buildResponse(inviteOf[tx], 487)); err != nil {
			t.Error(err)
		}
	}
	prev := p.server.rec.onRequest
	p.server.rec.onRequest = func(tx *ServerTx, req *sip.Message) {
		inviteOf[tx] = req.Clone()
		prev(tx, req)
	}

	heard := map[string][]string{} // by kind: what the client TUs heard
	kindOf := map[*ClientTx]string{}
	sentAs := map[*ClientTx][]byte{} // Request() is nil after the final response
	var handler ClientHandlerFunc
	handler = func(tx *ClientTx, r Response) {
		if r.Msg == nil {
			var te *Error
			errors.As(r.Err, &te)
			heard[kindOf[tx]] = append(heard[kindOf[tx]], fmt.Sprintf("%s %d %s", tx.Method(), r.Status, te.Timer))
			return
		}
		heard[kind(r.Msg)] = append(heard[kind(r.Msg)], fmt.Sprintf("%s %d", tx.Method(), r.Status))
		switch {
		case tx.Method() == "INVITE" && r.Status >= 200 && r.Status < 300:
			// The UAC core ACKs a 2xx itself, with a new branch (RFC 3261
			// §13.2.2.4); over the transport directly.
			a, err := buildACK(sentAs[tx], r.Msg.Get(sip.HeaderTo))
			if err != nil {
				t.Error(err)
				return
			}
			b := newBranch()
			a = []byte(strings.Replace(string(a), tx.Branch(), string(b[:]), 1))
			p.client.tp.Send(tx.Dest(), a)
		case tx.Method() == "INVITE" && r.Status == 180 && strings.Contains(string(r.Msg.CallID()), "cancel-"):
			if _, err := p.client.m.Cancel(tx, handler); err != nil {
				t.Error(err)
			}
		}
	}

	dst := addr(proto, serverAddr)
	kinds := []string{"ok", "late", "failing", "reject", "accept", "cancel", "lostack"}
	for i := 0; i < 70; i++ {
		k := kinds[i%len(kinds)]
		req := optionsReq
		if i%len(kinds) >= 3 {
			req = inviteReq
		}
		req = strings.Replace(req, "Call-ID: ", fmt.Sprintf("Call-ID: %s-%d-", k, i), 1)
		tx, err := p.client.m.Request(dst, []byte(req), handler)
		if err != nil {
			t.Fatal(err)
		}
		kindOf[tx] = k
		sentAs[tx] = tx.Request()
		p.clock.Advance(300 * time.Millisecond)
	}
	for p.clock.Pending() > 0 {
		p.clock.Step()
	}
	if len(cancels) != 10 {
		t.Errorf("%d INVITEs to cancel, want 10", len(cancels))
	}
	for _, tx := range cancels {
		if s := tx.State(); s != StateTerminated {
			t.Errorf("cancelled INVITE in %v", s)
		}
	}
	failing := "OPTIONS 503 " // Timer E's retransmission fails
	if proto.Reliable() {
		failing = "OPTIONS 408 F" // no retransmission over TCP
	}
	want := map[string]string{
		"ok":      "OPTIONS 200",
		"late":    "OPTIONS 408 F",
		"failing": failing,
		"reject":  "INVITE 180,INVITE 486",
		"accept":  "INVITE 200",
		"cancel":  "INVITE 180,CANCEL 200,INVITE 487",
		"lostack": "INVITE 180,INVITE 486",
	}
	for k, w := range want {
		got := heard[k]
		per := len(strings.Split(w, ","))
		if len(got) != 10*per {
			t.Errorf("%s: client heard %d events, want %d: %q", k, len(got), 10*per, got)
			continue
		}
		for i := 0; i < len(got); i += per {
			if g := strings.Join(got[i:i+per], ","); g != w {
				t.Errorf("%s: client heard %q, want %q", k, g, w)
				break
			}
		}
	}
	count := map[string]int{}
	for _, e := range p.server.rec.take() {
		count[e.Kind]++
		if e.Kind == "error" && !errors.Is(e.Err, ErrTimeout) {
			t.Errorf("server TU heard %v", e)
		}
	}
	if count["request"] != 70 || count["ack"] != 10 || count["cancel"] != 10 || count["error"] != 10 {
		t.Errorf("server TU heard %v, want 70 requests, 10 ACKs, 10 CANCELs, 10 Timer H", count)
	}
	p.client.checkEmpty()
	p.server.checkEmpty()
}

package fuzz

import (
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sipxfer/sipxfer/dialog"
	"github.com/sipxfer/sipxfer/event"
	"github.com/sipxfer/sipxfer/refer"
	"github.com/sipxfer/sipxfer/sip"
)

// FuzzTransfers puts a refer.Agent (over an event.Manager and a
// dialog.UA) opposite a scripted peer that plays the other parties of a
// transfer, Bob (127.0.0.1:5080) and Carol the transfer target
// (127.0.0.1:5090), and sends what the input says: INVITEs with real or
// bogus Replaces; REFERs inside and outside dialogs with zero, one or two
// Refer-To of sip, tel, http and broken URIs, embedded headers harmless
// and dangerous, Refer-Sub true, false or garbage and Target-Dialog real
// or bogus; NOTIFYs of the refer package with the right id, a wrong one or
// none, valid or garbage sipfrag and any state; SUBSCRIBEs for refer; and
// responses with any code to the UA's REFERs, NOTIFYs, SUBSCRIBEs and
// INVITEs, including the INVITE the Agent sends to a Refer-To target.
// Meanwhile the UA calls Bob, transfers (Refer, ReferOutside, attended
// with Replaces), accepts, refuses or defers REFERs now or later, hangs
// up, and the fake clock jumps. It checks that:
//
//   - nothing panics, deadlocks or spins (see watchdog);
//   - the UA never answers an ACK;
//   - each request of the peer gets at most one distinct final response
//     within 32 s (further 2xx to an INVITE aside);
//   - the UA's NOTIFYs of the refer package carry a message/sipfrag body
//     that begins with a status line (RFC 3515 §2.4.5), besides what
//     FuzzSubscriptions checks of every SUBSCRIBE and NOTIFY;
//   - nothing of an embedded header a UA must write itself (Via, From,
//     Contact, body) or takes from the REFER (Referred-By) reaches a
//     request of the UA (RFC 3261 §19.1.5, RFC 3892 §3);
//   - every REFER of the peer has its final response within 64*T1 (RFC
//     3515 §2.4.2: a 202 "before the REFER transaction expires", or a
//     refusal);
//   - an accepted REFER gets its first NOTIFY at once (RFC 6665 §4.2.1.2),
//     a final status ends the subscription and no NOTIFY follows the one
//     that did (RFC 3515 §2.4.7);
//   - a Transfer reports its REFER accepted or rejected once at most, and
//     Done once, after its Done channel closed;
//   - once the peer falls silent, every Transfer the UA started is over
//     within ten minutes (the peer grants subscriptions of five minutes at
//     most), and so is
//     every implicit subscription of the REFERs it received;
//   - after closing the Manager and the UA and ten more minutes, no
//     goroutine of the stack, transaction, timer, dialog or subscription is
//     left.
//
// The first input byte configures the Agent; then each byte triple is an
// operation and two arguments (see xferScene.step).
func FuzzTransfers(f *testing.F) {
	// Blind transfer, the UA as transferee: Bob calls, the UA answers, Bob
	// ACKs and REFERs the UA to Carol; the UA accepts and calls Carol, who
	// answers 180 then 200; the NOTIFYs (100, 180, 200) are answered one
	// by one; Bob hangs up.
	f.Add([]byte{0x00, 0, 0x00, 0x00, 4, 0x00, 0x00, 1, 0x00, 0x00, 5, 0x01, 0x03, 5, 0x00, 0x01, 5, 0x01, 0x03, 5, 0x00, 0x03, 5, 0x00, 0x03, 4, 0x01, 0x01, 11, 9, 0})
	// Blind transfer, the UA as transferor: the UA calls Bob (200, ACK)
	// and REFERs him to Carol; Bob answers 202 and notifies 100 and 180
	// (active) and 200 (terminated).
	f.Add([]byte{0x00, 6, 0, 0, 5, 0, 0x03, 7, 0x00, 0x00, 5, 0, 0x04, 3, 0x01, 0x00, 27, 0x41, 0x00, 3, 0x81, 0x20, 11, 8, 0})
	// Attended transfer, the UA as transferor: two calls to Bob, a REFER
	// in the first naming the second with Replaces, 202 and a final 200.
	f.Add([]byte{0x00, 6, 0, 0, 5, 0, 0x03, 6, 0, 0, 5, 0, 0x03, 7, 0x02, 0x01, 5, 0, 0x04, 3, 0x81, 0x20, 11, 9, 0})
	// The UA as transferee outside the dialog (RFC 7647, Target-Dialog
	// RFC 4538): Bob calls; a REFER with Refer-Sub: false accepted at
	// once, to a Carol who declines; a REFER left undecided, deferred by
	// the Agent after a second, then accepted, to a Carol who answers.
	f.Add([]byte{0x00, 0, 0x00, 0x00, 4, 0x00, 0x00, 2, 0x04, 0x04, 5, 0x00, 0x0d, 62, 0x05, 0x00, 11, 3, 0, 9, 0, 0, 5, 0, 0x03, 11, 9, 0})
	// Attended transfer, the UA as transferee: Bob calls twice and, in the
	// first call, REFERs the UA to itself with a Replaces naming the
	// second; the UA's INVITE to itself replaces that call.
	f.Add([]byte{0x00, 0, 0x00, 0x00, 4, 0x00, 0x00, 0, 0x01, 0x00, 4, 0x00, 0x00, 1, 0x51, 0x00, 11, 3, 0, 11, 9, 0})
	// The UA as transferee; Bob refreshes the implicit subscription with a
	// SUBSCRIBE (Event: refer;id=<the REFER's CSeq>, RFC 3515 §2.4.4), then
	// ends it with Expires: 0, while Carol never answers.
	f.Add([]byte{0x00, 0, 0x00, 0x00, 4, 0x00, 0x00, 1, 0x00, 0x00, 4, 0x00, 0x14, 5, 0x01, 0x03, 4, 0x00, 0x1d, 11, 9, 0})
	// Refusals: two Refer-To, none, a tel URI, an embedded Via (403 with
	// RejectForbidden), a SUBSCRIBE for refer outside a dialog; a REFER of
	// the UA outside a dialog, accepted, with a NOTIFY that is no sipfrag.
	f.Add([]byte{0x10, 2, 0x00, 0x02, 2, 0x01, 0x03, 2, 0x92, 0x00, 2, 0x63, 0x00, 4, 0x07, 0x07, 8, 0x00, 0x00, 5, 0x00, 0x04, 51, 0x01, 0x00, 11, 9, 0})
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) == 0 || len(ops) > 300 {
			return
		}
		defer watchdog()()
		s := newXferScene(t, ops[0])
		for i := 1; i+2 < len(ops); i += 3 {
			s.step(ops[i], ops[i+1], ops[i+2])
			s.settle()
			s.checkOwed()
			if t.Failed() {
				return
			}
		}
		s.finish()
	})
}

const fuzzSDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"

// xferScene is the UA with its event Manager and REFER Agent, opposite the
// peer.
type xferScene struct {
	*rig
	ev    *event.Manager
	agent *refer.Agent
	base  int // goroutines before the scene started

	// Guarded by rig.mu.
	referDecision  byte // how OnRefer decides the next REFER
	inviteDecision byte // how OnInvite answers the next INVITE
	incoming       []*refer.Incoming
	transfers      []*refer.Transfer
	doneReports    map[*refer.Transfer]int
	answers        map[*refer.Transfer]int // Accepted and Rejected reports
	calls          []*dialog.Call          // every call: dialled, received, placed by the Agent
	ringing        []*dialog.Call          // incoming calls not answered yet
}

// newXferScene starts the scene; cfg's bits configure the Agent.
func newXferScene(t *testing.T, cfg byte) *xferScene {
	s := &xferScene{base: runtime.NumGoroutine(), doneReports: make(map[*refer.Transfer]int), answers: make(map[*refer.Transfer]int)}
	dcfg := dialog.Config{MaxDialogs: 8, OnInvite: s.onInvite}
	// Timer C bounds an INVITE that a silent target left ringing, so that
	// a transfer to it ends (RFC 3261 §16.6 gives a UA no such bound).
	dcfg.Transaction.TimerC = 3 * time.Minute
	s.rig = newRig(t, dcfg)
	s.ev = event.New(s.ua, event.Config{})
	rcfg := refer.Config{
		OnRefer: s.onRefer,
		CallOptions: func(*refer.Incoming) *dialog.CallOptions {
			return &dialog.CallOptions{InitialOptions: dialog.InitialOptions{RequestOptions: dialog.RequestOptions{ContentType: "application/sdp", Body: []byte(fuzzSDP)}}}
		},
		OnCall: func(_ *refer.Incoming, c *dialog.Call) { s.addCall(c, false) },
		Policy: &refer.Policy{
			AllowTel:          cfg&4 != 0,
			AllowOtherSchemes: cfg&8 != 0,
			AnyMethod:         cfg>>4&3 == 3,
			EmbeddedHeaders:   refer.HeaderMode((cfg >> 4 & 3) % 3),
		},
		IgnoreNoSubscription: cfg&2 != 0,
		AcceptOutsideDialog:  cfg&64 != 0,
		NoAutoCall:           cfg&128 != 0,
	}
	if cfg&1 != 0 {
		rcfg.AcceptCode = 202
	}
	var err error
	if s.agent, err = refer.New(s.ua, s.ev, rcfg); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *xferScene) addCall(c *dialog.Call, ringing bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.calls) < 64 {
		s.calls = append(s.calls, c)
	}
	if ringing && len(s.ringing) < 16 {
		s.ringing = append(s.ringing, c)
	}
}

// onInvite answers an INVITE as the input said, unless it replaces a call.
func (s *xferScene) onInvite(c *dialog.Call, req *sip.Message) {
	s.mu.Lock()
	d := s.inviteDecision
	s.mu.Unlock()
	if s.agent.AcceptReplaces(c, req, "application/sdp", []byte(fuzzSDP)) {
		s.addCall(c, false)
		return
	}
	switch d % 4 {
	case 0:
		s.addCall(c, false)
		c.Answer("application/sdp", []byte(fuzzSDP))
	case 1:
		s.addCall(c, true)
		c.Ring()
	case 2:
		c.Reject(486, "")
	case 3:
		s.addCall(c, true)
	}
}

// onRefer decides a REFER as the input said, or leaves it for later (the
// Agent defers it after DecideWithin).
func (s *xferScene) onRefer(in *refer.Incoming) {
	s.mu.Lock()
	if len(s.incoming) < 32 {
		s.incoming = append(s.incoming, in)
	}
	d := s.referDecision
	s.mu.Unlock()
	switch d % 8 {
	case 0, 1:
		in.Accept()
	case 2:
		in.Reject(0, "")
	case 3:
		in.Reject(480, "")
	case 4:
		in.Defer()
	}
}

// progress checks that a Transfer reports Done once, after Done closed. It
// may run on the goroutine of Transfer's unsubscription, so it fails with
// Errorf.
func (s *xferScene) progress(t *refer.Transfer, p refer.Progress) {
	switch p.Kind {
	case refer.Accepted, refer.Rejected:
		// The REFER has one final response (RFC 3261 §17.1.2).
		s.mu.Lock()
		s.answers[t]++
		n := s.answers[t]
		s.mu.Unlock()
		if n > 1 {
			s.t.Errorf("a transfer reported its REFER accepted or rejected %d times", n)
		}
		return
	case refer.Notified:
		return
	}
	select {
	case <-t.Done():
	default:
		s.t.Errorf("a transfer reported Done before closing Done")
	}
	s.mu.Lock()
	s.doneReports[t]++
	n := s.doneReports[t]
	s.mu.Unlock()
	if n > 1 {
		s.t.Errorf("a transfer reported Done %d times", n)
	}
}

// settle lets the goroutines the stack started (a Transfer unsubscribing
// after a final NOTIFY) run, so that an input does the same each time as
// far as possible.
func (s *xferScene) settle() {
	for i := 0; i < 4 && runtime.NumGoroutine() > s.base; i++ {
		runtime.Gosched()
	}
}

// waitGoroutines waits for every goroutine of the stack to end, and fails
// if one is still there after ten seconds.
func (s *xferScene) waitGoroutines() {
	start := time.Now()
	for i := 0; runtime.NumGoroutine() > s.base; i++ {
		if i < 100 {
			runtime.Gosched()
			continue
		}
		// Goroutines of the testing package come and go: look at what runs.
		buf := make([]byte, 1<<20)
		var ours []string
		for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n")[1:] {
			if strings.Contains(g, "github.com/sipxfer/sipxfer/") {
				ours = append(ours, g)
			}
		}
		if len(ours) == 0 {
			return
		}
		if time.Since(start) > 10*time.Second {
			s.t.Fatalf("%d goroutines of the stack left after Close:\n%s", len(ours), strings.Join(ours, "\n\n"))
		}
		time.Sleep(time.Millisecond)
	}
}

// finish lets the peer fall silent for ten minutes, checks that every
// transfer is over and every REFER answered, then closes everything and
// checks that nothing is left.
func (s *xferScene) finish() {
	t := s.t
	for i := 0; i < 20; i++ {
		s.clock.Advance(30 * time.Second)
		s.settle()
		s.checkRefers()
		s.checkOwed()
	}
	s.mu.Lock()
	transfers := append([]*refer.Transfer(nil), s.transfers...)
	incoming := append([]*refer.Incoming(nil), s.incoming...)
	s.mu.Unlock()
	for _, tr := range transfers {
		select {
		case <-tr.Done():
		default:
			sub := tr.Subscription()
			t.Fatalf("a transfer is not over ten minutes after the peer's last message: result %+v, subscription %v (expires %s, now %s)",
				tr.Result(), sub.State(), sub.Expires().Format("15:04:05"), s.clock.Now().Format("15:04:05"))
		}
	}
	// The implicit subscriptions of the REFERs received end too: they
	// expire (refer.DefaultExpires), and their NOTIFYs time out.
	if a, b := s.ev.Subscriptions(); a+b != 0 {
		t.Fatalf("%d subscriber and %d notifier subscriptions left ten minutes after the peer's last message", a, b)
	}
	s.ev.Close()
	s.waitGoroutines()
	s.ua.Close()
	s.clock.Advance(10 * time.Minute)
	s.checkEmpty()
	if a, b := s.ev.Subscriptions(); a+b != 0 {
		t.Fatalf("%d subscriber and %d notifier subscriptions left after Close", a, b)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, tr := range transfers {
		if n := s.doneReports[tr]; n != 1 {
			t.Fatalf("a transfer reported Done %d times", n)
		}
		select {
		case <-tr.Subscription().Done():
		default:
			t.Fatalf("a transfer's subscription is still %v after Close", tr.Subscription().State())
		}
	}
	for _, in := range incoming {
		if n := in.Subscription(); n != nil {
			select {
			case <-n.Done():
			default:
				t.Fatalf("the subscription of %s is still %v after Close", in, n.State())
			}
		}
	}
	s.peer.Close()
}

// The values the peer writes, picked by the input.
var (
	// referTos are Refer-To values; {real} is replaced by an escaped
	// Replaces naming a dialog the UA holds with the peer.
	referTos = [16]string{
		"<sip:carol@127.0.0.1:5090>",
		"sip:carol@127.0.0.1:5090",
		`"Carol" <sip:carol@127.0.0.1:5090;transport=udp>`,
		"<sip:carol@127.0.0.1:5090?Subject=hi&Priority=urgent>",
		"<sip:carol@127.0.0.1:5090?Replaces={real}>",
		"<sip:ua@127.0.0.1:5060?Replaces={real}>",
		"<sip:carol@127.0.0.1:5090?Via=SIP%2F2.0%2FUDP%20192.0.2.9&From=%3Csip:x%40192.0.2.9%3E>",
		"<sip:carol@127.0.0.1:5090?Contact=%3Csip:evil%40192.0.2.9%3E&body=hello>",
		"<sip:carol@127.0.0.1:5090;method=BYE>",
		"<tel:+15551234>",
		"<http://127.0.0.1:5090/x>",
		"<sip:carol@127.0.0.1:5090?Require=replaces&Replaces=bogus>",
		"<sip:carol@127.0.0.1:5090?Referred-By=%3Csip:x%40192.0.2.9%3E&Accept-Contact=*%3Baudio>",
		"<sip:>",
		"<sips:carol@127.0.0.1:5091>",
		"<sip:ua@127.0.0.1:5060>",
	}
	referSubs  = [4]string{"", "false", "true", "maybe"}
	referCodes = [16]int{100, 180, 183, 200, 202, 403, 404, 481, 486, 487, 489, 500, 503, 603, 408, 200}
	// sipfrags are NOTIFY bodies: status lines, with header fields, and not.
	referNotify = notifyKit{
		events: [8]string{"refer", "refer", "refer;id=999", "refer;id=1", "", "presence", "refer;id=", "Refer"},
		states: [16]string{
			"active;expires=60", "pending;expires=30", "active", "pending",
			"terminated;reason=noresource", "terminated", "terminated;reason=rejected", "active;expires=300",
			"terminated;reason=noresource", "active;expires=60", "", "terminated;reason=timeout",
			"waiting", "pending;expires=0", "terminated;reason=probation;retry-after=5", "active;expires=60",
		},
		creates: sip.MethodRefer,
		natural: func(m *sip.Message) string {
			cseq, _ := m.CSeq()
			return "refer;id=" + strconv.Itoa(int(cseq.Seq))
		},
	}
	sipfrags = [8][2]string{
		{"message/sipfrag", "SIP/2.0 100 Trying\r\n"},
		{"message/sipfrag;version=2.0", "SIP/2.0 180 Ringing\r\n"},
		{"message/sipfrag", "SIP/2.0 200 OK\r\nContact: <sip:carol@127.0.0.1:5090>\r\n"},
		{"message/sipfrag", "SIP/2.0 603 Declined\r\n"},
		{"message/sipfrag", "hello"},
		{"", ""},
		{"text/plain", "SIP/2.0 200 OK\r\n"},
		{"message/sipfrag", "SIP/2.0 99 Odd\r\n"},
	}
)

// realReplaces returns an escaped Replaces value naming the dialog picked
// by i among those the peer shares with the UA, as the UA holds it (to-tag
// its own tag, RFC 3891 §3), or a bogus one.
func (s *xferScene) realReplaces(i int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i >= len(s.dialogs) {
		return "nope%3Bto-tag%3Da%3Bfrom-tag%3Db"
	}
	d := s.dialogs[len(s.dialogs)-1-i]
	return d.callID + "%3Bto-tag%3D" + d.uaTag + "%3Bfrom-tag%3D" + d.peerTag
}

// peek returns a copy of a dialog the peer knows, picked by i, and whether
// there is one.
func (s *xferScene) peek(i int) (peerDialog, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i >= len(s.dialogs) {
		return peerDialog{}, false
	}
	return *s.dialogs[len(s.dialogs)-1-i], true
}

// referHeaders are the header fields of a REFER of the peer: v picks the
// Refer-To value, b its count, Refer-Sub, Referred-By and Require, x the
// dialog a Replaces names.
func (s *xferScene) referHeaders(v, b, x byte) []string {
	to := strings.ReplaceAll(referTos[v&15], "{real}", s.realReplaces(int(x/8)))
	var hs []string
	switch b & 3 {
	case 0, 1:
		hs = append(hs, "Refer-To: "+to)
	case 2:
		hs = append(hs, "Refer-To: "+to, "Refer-To: <sip:dave@127.0.0.1:5090>")
	}
	if rs := referSubs[b>>2&3]; rs != "" {
		hs = append(hs, "Refer-Sub: "+rs)
	}
	if b&16 != 0 {
		hs = append(hs, "Referred-By: <sip:peer@127.0.0.1:5080>")
	}
	if b&64 != 0 {
		hs = append(hs, "Require: norefersub")
	}
	return hs
}

func (s *xferScene) decide(refer, invite byte) {
	s.mu.Lock()
	s.referDecision, s.inviteDecision = refer, invite
	s.mu.Unlock()
}

// step runs one operation: op%12 picks it, op/12 (0-21) is a third
// argument.
func (s *xferScene) step(op, a, b byte) {
	x := op / 12
	switch op % 12 {
	case 0: // the peer calls the UA, with or without Replaces
		s.decide(x, b)
		q := &peerRequest{method: "INVITE", callID: "i" + strconv.Itoa(int(a&3)), fromTag: "p" + strconv.Itoa(int(a>>2&1)), seq: 1,
			contentType: "application/sdp", body: fuzzSDP, reuse: b&0x80 != 0}
		replaces := "Replaces: nope;to-tag=a;from-tag=b"
		if d, ok := s.peek(int(b >> 2 & 15)); ok {
			replaces = "Replaces: " + d.callID + ";to-tag=" + d.uaTag + ";from-tag=" + d.peerTag
		}
		switch a >> 3 & 7 {
		case 4:
			q.headers = append(q.headers, replaces)
		case 5:
			q.headers = append(q.headers, replaces+";early-only")
		case 6:
			q.headers = append(q.headers, "Replaces: nope;to-tag=a;from-tag=b")
		case 7:
			q.headers = append(q.headers, replaces, "Replaces: nope;to-tag=a;from-tag=b")
		}
		if x&1 != 0 {
			q.headers = append(q.headers, "Require: replaces")
		}
		if x&2 != 0 {
			q.headers = append(q.headers, "Join: nope;to-tag=a;from-tag=b")
		}
		s.send(q)
	case 1: // the peer REFERs inside a dialog
		s.decide(x, 0)
		d, seq := s.dialog(int(a&15), b&32 != 0)
		s.send(&peerRequest{method: "REFER", callID: d.callID, fromTag: d.peerTag, toTag: d.uaTag, seq: seq, headers: s.referHeaders(a>>4, b, x), reuse: b&0x80 != 0})
	case 2: // the peer REFERs outside any dialog
		s.decide(x, 0)
		q := &peerRequest{method: "REFER", callID: "o" + strconv.Itoa(int(a&3)), fromTag: "p" + strconv.Itoa(int(b>>5&1)), seq: 1, headers: s.referHeaders(a>>4, b, x), reuse: b&0x80 != 0}
		switch a >> 2 & 3 {
		case 1:
			if d, ok := s.peek(int(x / 8)); ok {
				q.headers = append(q.headers, "Target-Dialog: "+d.callID+";local-tag="+d.uaTag+";remote-tag="+d.peerTag)
			}
		case 2:
			q.headers = append(q.headers, "Target-Dialog: nope;local-tag=a;remote-tag=b")
		case 3:
			q.headers = append(q.headers, "Target-Dialog: ;;")
		}
		s.send(q)
	case 3: // the peer notifies, of the refer package
		kit := referNotify
		kit.bodies = [4][2]string{sipfrags[x&7], sipfrags[x>>1&7], sipfrags[(x+2)&7], sipfrags[(x+5)&7]}
		s.peerNotify(a, b, &kit)
	case 4: // the peer sends another request inside a dialog, or a SUBSCRIBE
		s.decide(0, x)
		d, seq := s.dialog(int(a&15), a&16 != 0)
		q := &peerRequest{callID: d.callID, fromTag: d.peerTag, toTag: d.uaTag, seq: seq, reuse: b&0x80 != 0}
		switch b & 7 {
		case 0, 6:
			q.method, q.seq = "ACK", d.inviteSeq
		case 1:
			q.method = "BYE"
		case 2:
			q.method, q.contentType, q.body = "INVITE", "application/sdp", fuzzSDP
			s.mu.Lock()
			for _, pd := range s.dialogs {
				if pd.callID == d.callID && pd.uaTag == d.uaTag && pd.peerTag == d.peerTag {
					pd.inviteSeq = seq
				}
			}
			s.mu.Unlock()
		case 3:
			q.method = "INFO"
		case 4, 5:
			q.method = "SUBSCRIBE"
			q.headers = []string{"Event: " + [...]string{"refer", "refer;id=1", "refer;id=" + strconv.Itoa(max(seq-1, 1)), "refer;id=" + strconv.Itoa(seq-2)}[b>>3&3]}
			if b&7 == 5 || b&32 != 0 {
				q.headers = append(q.headers, "Expires: 0")
			}
		case 7: // outside a dialog: RFC 3515 §2.4.4 wants 403
			q.method, q.callID, q.toTag, q.seq = "SUBSCRIBE", "sr"+strconv.Itoa(int(a&3)), "", 1
			q.headers = []string{"Event: refer;id=" + strconv.Itoa(int(b>>3&3))}
		}
		s.send(q)
	case 5: // the peer answers a request of the UA
		g, ok := s.pickReceived(int(a), func(m *sip.Message) bool { return m.Method() != sip.MethodAck })
		if !ok {
			return
		}
		code := referCodes[b&15]
		var extra []string
		cseq, _ := g.msg.CSeq()
		switch {
		case code == 503:
			extra = append(extra, "Retry-After: 5")
		case code >= 200 && code < 300 && cseq.Method == sip.MethodRefer && b&32 != 0:
			extra = append(extra, "Refer-Sub: false")
		case code >= 200 && code < 300 && cseq.Method == sip.MethodSubscribe && b&32 != 0:
			extra = append(extra, "Expires: 60")
		}
		s.respond(g, code, "r"+strconv.Itoa(int(b>>4&1)), extra...)
	case 6: // the UA calls Bob
		if c, err := s.ua.Dial("sip:bob@127.0.0.1:5080", &dialog.CallOptions{InitialOptions: dialog.InitialOptions{RequestOptions: dialog.RequestOptions{ContentType: "application/sdp", Body: []byte(fuzzSDP)}}}); err == nil {
			s.addCall(c, false)
		}
	case 7: // the UA transfers inside a dialog
		d := s.peerDialogOfUA(b)
		if d == nil {
			return
		}
		if tr, err := s.agent.Refer(d, s.referOptions(a, x, d)); err == nil {
			s.mu.Lock()
			s.transfers = append(s.transfers, tr)
			s.mu.Unlock()
		}
	case 8: // the UA transfers outside any dialog
		target := [...]string{"sip:bob@127.0.0.1:5080", "sip:bob@127.0.0.1:5080", "sip:nobody@127.0.0.1:5999", "sip:bob@127.0.0.1:5080;transport=tcp"}[b&3]
		if tr, err := s.agent.ReferOutside(target, s.referOptions(a, x, nil)); err == nil {
			s.mu.Lock()
			s.transfers = append(s.transfers, tr)
			s.mu.Unlock()
		}
	case 9: // the UA decides a REFER it received, or reports on it
		s.mu.Lock()
		if len(s.incoming) == 0 {
			s.mu.Unlock()
			return
		}
		in := s.incoming[len(s.incoming)-1-int(a)%len(s.incoming)]
		s.mu.Unlock()
		switch b & 7 {
		case 0:
			in.Accept()
		case 1:
			in.Reject(0, "")
		case 2:
			in.Reject(486, "Busy Here")
		case 3:
			in.Defer()
		case 4:
			in.Notify(180, "")
		case 5:
			in.Notify([...]int{200, 486, 503, 603}[b>>3&3], "")
		case 6:
			in.CurrentNotify()
		case 7:
			in.Reject(200, "") // refused: not a failure code
		}
	case 10: // the UA deals with a call or a transfer
		s.act(a, b)
	case 11: // time passes
		s.advance(a)
		s.checkRefers()
	}
}

// act has the UA end, answer or cancel a call, or end or refresh a
// transfer's subscription early; or close its event Manager, after which
// REFERs get 503 and transfers end without outcome.
func (s *xferScene) act(a, b byte) {
	if a == 0xff && b == 0xff {
		s.ev.Close()
		return
	}
	s.mu.Lock()
	var c, r *dialog.Call
	var tr *refer.Transfer
	if len(s.calls) > 0 {
		c = s.calls[len(s.calls)-1-int(a)%len(s.calls)]
	}
	if len(s.ringing) > 0 {
		r = s.ringing[len(s.ringing)-1-int(a)%len(s.ringing)]
	}
	if len(s.transfers) > 0 {
		tr = s.transfers[len(s.transfers)-1-int(a)%len(s.transfers)]
	}
	s.mu.Unlock()
	switch b & 7 {
	case 0:
		if c != nil {
			c.Hangup(cancelled())
		}
	case 1:
		if r != nil {
			r.Answer("application/sdp", []byte(fuzzSDP))
		}
	case 2:
		if r != nil {
			r.Ring()
		}
	case 3:
		if r != nil {
			r.Reject(603, "")
		}
	case 4:
		if tr != nil {
			tr.Unsubscribe(cancelled())
		}
	case 5:
		if tr != nil {
			tr.Refresh(cancelled())
		}
	case 6:
		if c != nil {
			c.Cancel()
		}
	case 7:
		if c != nil {
			refer.Replace(cancelled(), c)
		}
	}
}

// peerDialogOfUA returns a dialog of the UA with the peer (not one with
// itself), picked by b: a call's, a transfer's or a received REFER's.
func (s *xferScene) peerDialogOfUA(b byte) *dialog.Dialog {
	s.mu.Lock()
	var c []func() *dialog.Dialog
	for _, x := range s.calls {
		c = append(c, x.Dialog)
	}
	for _, x := range s.transfers {
		c = append(c, x.Subscription().Dialog)
	}
	for _, x := range s.incoming {
		if n := x.Subscription(); n != nil {
			c = append(c, n.Dialog)
		}
	}
	s.mu.Unlock()
	if len(c) == 0 {
		return nil
	}
	d := c[len(c)-1-int(b)%len(c)]()
	if d == nil || !strings.Contains(d.RemoteTarget(), "@127.0.0.1:50") || strings.Contains(d.RemoteTarget(), ":5060") {
		return nil
	}
	return d
}

// referOptions are the options of a REFER of the UA: a picks the Refer-To
// and the flags, x the call an attended transfer replaces.
func (s *xferScene) referOptions(a, x byte, in *dialog.Dialog) *refer.ReferOptions {
	o := &refer.ReferOptions{OnProgress: s.progress, NoSubscription: a&16 != 0}
	switch a & 7 {
	case 0, 1:
		o.ReferTo = "<sip:carol@127.0.0.1:5090>"
	case 2: // attended: a call of the UA, replaced
		s.mu.Lock()
		var consult *dialog.Dialog
		if n := len(s.calls); n > 0 {
			consult = s.calls[n-1-int(x)%n].Dialog()
		}
		s.mu.Unlock()
		o.ReferTo = "<sip:carol@127.0.0.1:5090>"
		if consult != nil && consult != in {
			if rt, err := refer.AttendedReferTo(consult); err == nil {
				o.ReferTo = rt
			}
		}
	case 3:
		o.ReferTo = "<tel:+15551234>"
	case 4:
		o.ReferTo = `"Carol" <sip:carol@127.0.0.1:5090;method=INVITE?Subject=x>`
	case 5:
		o.ReferTo = "<sip:carol@127.0.0.1:5090?Replaces=nope%3Bto-tag%3Da%3Bfrom-tag%3Db>"
	case 6:
		o.ReferTo = ""
	case 7:
		o.ReferTo = "<sip:carol@127.0.0.1:5090>, <sip:dave@127.0.0.1:5090>"
	}
	if a&8 != 0 {
		o.ReferredBy = s.agent.Self(in)
	}
	if a&32 != 0 {
		o.Headers = []dialog.Header{{Name: "Require", Value: "norefersub"}}
	}
	switch a >> 6 {
	case 1:
		s.mu.Lock()
		for i := len(s.calls) - 1; i >= 0; i-- {
			if d := s.calls[i].Dialog(); d != nil {
				id := d.ID()
				o.TargetDialog = &id
				break
			}
		}
		s.mu.Unlock()
	case 2:
		o.TargetDialog = &dialog.ID{CallID: "nope", LocalTag: "a", RemoteTag: "b"}
	}
	return o
}

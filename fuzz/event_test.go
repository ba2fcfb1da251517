package fuzz

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sipxfer/sipxfer/dialog"
	"github.com/sipxfer/sipxfer/event"
	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/sipfrag"
	"github.com/sipxfer/sipxfer/transport"
)

// FuzzSubscriptions puts an event.Manager on a dialog.UA opposite a
// scripted peer that sends whatever the input says: SUBSCRIBEs (new,
// refreshing, Expires 0, for unknown packages, with a bad Event or id),
// NOTIFYs for real and invented subscriptions and dialogs with any
// Subscription-State (or none) and acceptable or unacceptable bodies, and
// responses with any code to the UA's SUBSCRIBEs, NOTIFYs and INVITEs;
// meanwhile the UA subscribes (outside dialogs, and inside a call's or a
// subscription's dialog), unsubscribes with an already cancelled context,
// refreshes, re-subscribes and closes subscriptions, notifies and
// terminates as notifier, places and ends calls, and the fake clock jumps.
// The UA serves the package "test" (OnSubscribe accepts or refuses as the
// input says) and subscribes to it and to "fork", a forking package it
// does not serve. It checks that:
//
//   - nothing panics, deadlocks or spins (see watchdog);
//   - the UA never answers an ACK;
//   - each request of the peer gets at most one distinct final response
//     within 32 s (further 2xx to an INVITE aside);
//   - the UA's SUBSCRIBEs carry one valid Event and an Expires, its 2xx to
//     SUBSCRIBE an Expires and never 202, its NOTIFYs one valid Event and a
//     Subscription-State with expires when active or pending (RFC 6665
//     §3.1.1, §3.1.2, §3.2.1, §4.2.2, §8.3.1; see checkRequest), an expires
//     that does not go past what its last 2xx granted (§4.2.1.1; a known
//     bug aside, see rig.expiresLocked);
//   - a subscription's OnTerminated comes once, with Done closed, and no
//     OnNotify after it; a notifier's OnTerminated comes once;
//   - once the peer falls silent, every subscription of either role ends
//     within two hours (none can be granted more than one);
//   - after Manager.Close, UA.Close and ten minutes, no transaction, timer,
//     dialog or subscription is left, and every Subscription and Notifier
//     the test saw has its Done channel closed.
//
// The first input byte configures the Manager and the package; then each
// byte triple is an operation and two arguments (see subScene.step).
func FuzzSubscriptions(f *testing.F) {
	// The UA subscribes; the peer accepts (200, Expires: 30) and notifies
	// active; the UA refreshes halfway, the peer accepts and ends the
	// subscription (terminated;reason=noresource).
	f.Add([]byte{0x00, 4, 0x00, 0x00, 3, 0x00, 0x22, 2, 0x41, 0x00, 9, 8, 0, 3, 0x00, 0x02, 2, 0x41, 0x48, 9, 9, 0})
	// The UA as notifier: the peer subscribes (accepted, first NOTIFY with
	// the state) and refreshes; the UA notifies; the peer unsubscribes
	// (Expires: 0, final NOTIFY); another SUBSCRIBE is refused (403).
	f.Add([]byte{0x20, 0, 0x00, 0x01, 3, 0x00, 0x02, 1, 0x10, 0x80, 3, 0x00, 0x02, 7, 0x00, 0x00, 3, 0x00, 0x02, 1, 0x00, 0x07, 3, 0x00, 0x02, 0, 0x04, 0x04, 9, 9, 0})
	// The UA as notifier: a refresh accepted, the next one refused (403,
	// the subscription goes on, RFC 6665 §4.1.2.2), then an unsubscription.
	f.Add([]byte{0x20, 0, 0x00, 0x01, 3, 0x00, 0x02, 1, 0x10, 0x80, 3, 0x00, 0x02, 1, 0x40, 0x80, 1, 0x00, 0x07, 3, 0x00, 0x02, 9, 9, 0})
	// A subscription with AutoResubscribe terminated with probation and
	// retry-after (RFC 6665 §4.1.3); the Manager closes before the retry.
	f.Add([]byte{0x00, 4, 0x80, 0x00, 3, 0x00, 0x02, 2, 0x41, 0x28, 8, 0xff, 0x00, 9, 9, 0})
	// A call from the UA, answered; a subscription inside its dialog
	// (RFC 6665 §4.5.2), its NOTIFY before its 2xx; an unsubscription with
	// a cancelled context, the final NOTIFY then answered 481; hang-up.
	f.Add([]byte{0x01, 8, 0x00, 0x00, 3, 0x00, 0x02, 5, 0x00, 0x00, 2, 0x00, 0x08, 3, 0x00, 0x02, 6, 0x00, 0x00, 2, 0x00, 0x48, 8, 0x00, 0x01, 3, 0x00, 0x02, 9, 9, 0})
	// A forking SUBSCRIBE (RFC 6665 §4.1.4): NOTIFYs from three notifiers,
	// the second kept and the third refused by OnFork (481); a 423 after
	// them; refreshes; Manager.Close, then a SUBSCRIBE (503) and a NOTIFY.
	f.Add([]byte{0x02, 4, 0x01, 0x00, 2, 0x21, 0x00, 2, 0x31, 0x00, 2, 0x01, 0x00, 3, 0x00, 0x05, 9, 9, 0, 8, 0xff, 0x00, 0, 0x00, 0x00, 2, 0x31, 0x00})
	// Unknown package (489), no Event (489), a bad Event (400), a fetch
	// (Expires: 0, one terminated NOTIFY), a refusal (403); a poll by the
	// UA, a NOTIFY without Subscription-State (400), then a terminated one.
	f.Add([]byte{0xfc, 0, 0x18, 0x00, 0, 0x28, 0x00, 0, 0x30, 0x00, 0, 0x40, 0x01, 0, 0x01, 0x04, 4, 0x20, 0x00, 3, 0x00, 0x02, 2, 0x41, 0x60, 2, 0x41, 0x58, 9, 5, 0})
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) == 0 || len(ops) > 300 {
			return
		}
		defer watchdog()()
		s := newSubScene(t, ops[0])
		for i := 1; i+2 < len(ops); i += 3 {
			s.step(ops[i], ops[i+1], ops[i+2])
		}
		s.silence()
		s.ev.Close()
		s.ua.Close()
		s.clock.Advance(10 * time.Minute)
		s.checkEmpty()
		if a, b := s.ev.Subscriptions(); a+b != 0 {
			t.Fatalf("%d subscriber and %d notifier subscriptions left after Close", a, b)
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, sub := range s.subs {
			select {
			case <-sub.Done():
			default:
				t.Fatalf("a subscription (%s;id=%s) is still %v after Close", sub.Package(), sub.ID(), sub.State())
			}
		}
		for _, n := range s.notifiers {
			select {
			case <-n.Done():
			default:
				t.Fatalf("a notifier (%s;id=%s) is still %v after Close", n.Package(), n.ID(), n.State())
			}
		}
		s.peer.Close()
	})
}

// watchdog panics, with every goroutine's stack, if the input runs for
// more than 60 seconds of real time: a deadlock or a livelock (a timer
// re-arming itself at the same instant keeps FakeClock.Advance busy).
// A panic on any goroutine makes the fuzzer keep the input. It returns the
// function that stops it.
func watchdog() (stop func()) {
	timer := time.AfterFunc(60*time.Second, func() {
		buf := make([]byte, 1<<20)
		panic(fmt.Sprintf("fuzz: input still running after 60 s:\n%s", buf[:runtime.Stack(buf, true)]))
	})
	return func() { timer.Stop() }
}

// The in-memory addresses: the UA under test, and the scripted peer's two
// listeners (Bob, and Carol the transfer target).
const (
	uaPort    = 5060
	bobPort   = 5080
	carolPort = 5090
)

func memAt(port uint16) transport.Addr {
	return transport.Addr{Proto: transport.UDP, AddrPort: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port)}
}

// rig is a dialog.UA on an in-memory network and a fake clock, opposite a
// scripted peer: a bare transport layer that checks and records what the
// UA sends it, and sends whatever the test writes. It remembers the
// dialogs the two share as the peer sees them.
type rig struct {
	t     *testing.T
	clock *transport.FakeClock
	ua    *dialog.UA
	uaAt  transport.Addr
	peer  *transport.Layer

	mu         sync.Mutex
	received   []peerGot            // the latest requests from the UA
	dialogs    []*peerDialog        // dialogs shared with the UA, the latest last
	finals     map[string]final     // the peer's requests by branch and method
	refers     map[string]time.Time // the peer's REFERs without a final response, when sent
	accepted   map[string]bool      // the peer's REFERs the UA accepted, by branch
	owed       map[string]bool      // those of them still waiting for their first NOTIFY
	ended      map[string]uint32    // refer subscriptions the UA terminated: the CSeq of that NOTIFY
	subscribed map[string]string    // the Event of the peer's SUBSCRIBEs, by branch
	granted    map[string]time.Time // when the subscriptions the UA granted the peer expire
	notifies   map[string]bool      // the branches of the UA's NOTIFYs
	branches   int
	lastBranch string
	lastWire   string // the last request sent, without Via
}

// peerGot is a request the peer received, and the listener it came to.
type peerGot struct {
	msg *sip.Message
	at  transport.Addr
}

// peerDialog is a dialog as the peer holds it.
type peerDialog struct {
	callID, uaTag, peerTag string
	seq                    int // the peer's last CSeq number in it
	inviteSeq              int // that of its last INVITE, for the ACK
}

const (
	maxReceived    = 48
	maxPeerDialogs = 16
)

// newRig starts the UA with cfg (Clock, User and Logger are set here) and
// the peer.
func newRig(t *testing.T, cfg dialog.Config) *rig {
	r := &rig{
		t:          t,
		clock:      transport.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)),
		finals:     make(map[string]final),
		refers:     make(map[string]time.Time),
		accepted:   make(map[string]bool),
		owed:       make(map[string]bool),
		ended:      make(map[string]uint32),
		subscribed: make(map[string]string),
		granted:    make(map[string]time.Time),
		notifies:   make(map[string]bool),
	}
	net := transport.NewNetwork(r.clock, 1)
	cfg.Clock, cfg.User, cfg.Logger = r.clock, "ua", quiet
	if v := os.Getenv("SIPXFER_FUZZ_TRACE"); v != "" {
		cfg.Transport.Tracer = &ladder{t: t, clock: r.clock, full: v == "2"}
	}
	r.ua = dialog.NewUA(cfg)
	var err error
	if r.uaAt, err = r.ua.ListenMem(net, memAt(uaPort)); err != nil {
		t.Fatal(err)
	}
	r.peer = transport.New(transport.Config{Clock: r.clock, Logger: quiet}, transport.HandlerFunc(r.receive))
	for _, p := range []uint16{bobPort, carolPort} {
		if _, err := r.peer.ListenMem(net, memAt(p)); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// ladder logs what the UA sends and receives, for reading what an input
// does: SIPXFER_FUZZ_TRACE=1 (first lines and a few header fields) or 2
// (whole messages) with go test -run 'FuzzX/name' -v.
type ladder struct {
	t     *testing.T
	clock *transport.FakeClock
	full  bool
}

func (l *ladder) TraceMessage(tr *transport.Trace) {
	dir := "ua <- " + tr.Remote.AddrPort.String()
	if tr.Sent {
		dir = "ua -> " + tr.Remote.AddrPort.String()
	}
	at := l.clock.Now().Format("15:04:05.000")
	if l.full {
		l.t.Logf("%s %s\n%s", at, dir, tr.Msg)
		return
	}
	var m sip.Message
	if sip.Parse(&m, tr.Msg) != nil {
		l.t.Logf("%s %s (unparsable)", at, dir)
		return
	}
	line, _, _ := strings.Cut(string(tr.Msg), "\r\n")
	cseq := m.Get(sip.HeaderCSeq)
	l.t.Logf("%s %s %s | CSeq %s | Call-ID %s | from-tag %s to-tag %s | Event %s | Sub-State %s", at, dir, line, cseq, m.CallID(), m.FromTag(), m.ToTag(), m.Get(sip.HeaderEvent), m.Get(sip.HeaderSubscriptionState))
}

// receive checks and records what the UA sends the peer.
func (r *rig) receive(in *transport.Inbound) {
	m := in.Msg
	r.mu.Lock()
	defer r.mu.Unlock()
	cseq, _ := m.CSeq()
	if m.IsRequest() {
		if len(r.received) == maxReceived {
			copy(r.received, r.received[1:])
			r.received = r.received[:maxReceived-1]
		}
		r.received = append(r.received, peerGot{m.Clone(), in.Local})
		if to := m.ToTag(); len(to) > 0 && cseq.Method != sip.MethodAck {
			r.learnLocked(string(m.CallID()), string(m.FromTag()), string(to), 0, false)
		}
		if err := checkRequest(m); err != "" {
			r.t.Fatalf("the UA sent a %s:\n%s", err, m.Bytes())
		}
		if ev, err := m.Event(); err == nil && cseq.Method == sip.MethodNotify {
			if string(ev.Type) == "refer" {
				r.referNotifyLocked(m, &ev, cseq.Seq)
			}
			r.expiresLocked(m)
		}
		return
	}
	if cseq.Method == sip.MethodAck {
		r.t.Fatalf("the UA answered an ACK:\n%s", m.Bytes())
	}
	code := m.StatusCode()
	if cseq.Method == sip.MethodSubscribe && code >= 200 && code < 300 {
		// RFC 6665 §3.1.1: a 2xx to SUBSCRIBE MUST carry Expires; §8.3.1:
		// a notifier MUST NOT send 202.
		if _, ok, err := m.Expires(); !ok || err != nil || code == 202 {
			r.t.Fatalf("the UA sent a %d to SUBSCRIBE without Expires, or a 202:\n%s", code, m.Bytes())
		}
	}
	if ev, ok := r.subscribed[string(via(m))]; ok && cseq.Method == sip.MethodSubscribe && code >= 200 && code < 300 {
		if secs, ok, err := m.Expires(); ok && err == nil {
			r.granted[string(m.CallID())+" "+string(m.ToTag())+" "+string(m.FromTag())+" "+ev] = r.clock.Now().Add(time.Duration(secs) * time.Second)
		}
	}
	if tag := m.ToTag(); len(tag) > 0 && code > 100 && code < 300 && formsDialog(cseq.Method) {
		r.learnLocked(string(m.CallID()), string(tag), string(m.FromTag()), int(cseq.Seq), cseq.Method == sip.MethodInvite)
	}
	if code < 200 {
		return
	}
	via, _ := m.TopVia()
	key := string(via.Branch) + " " + string(cseq.MethodName)
	now := r.clock.Now()
	// As in FuzzDialogs: within a transaction's life (64*T1 at most) the
	// final response does not change; after it, the branch is a new request.
	if prev, ok := r.finals[key]; ok && now.Sub(prev.at) < 32*time.Second && prev.code != code && !(prev.code < 300 && code < 300 && cseq.Method == sip.MethodInvite) {
		r.t.Fatalf("%s: final %d after %d", key, code, prev.code)
	}
	if prev, ok := r.finals[key]; !ok || now.Sub(prev.at) >= 32*time.Second {
		r.finals[key] = final{code, now}
	}
	if cseq.Method == sip.MethodRefer {
		delete(r.refers, key)
		// RFC 6665 §4.2.1.2 (which RFC 3515's implicit subscription follows):
		// an accepted REFER gets its first NOTIFY at once, unless it asked
		// for none and the 2xx says so (RFC 4488 §4).
		// A peer may reuse a CSeq number in a dialog (only a lower one gets
		// 500, RFC 3261 §12.2.2): a new REFER, a new subscription of that id.
		rkey := string(m.CallID()) + " " + string(m.FromTag()) + " " + string(m.ToTag()) + " " + strconv.FormatUint(uint64(cseq.Seq), 10)
		if v, present, _ := m.ReferSub(); code < 300 && !r.accepted[string(via.Branch)] {
			r.accepted[string(via.Branch)] = true
			delete(r.ended, rkey)
			if !(present && !v) {
				r.owed[rkey] = true
			}
		}
	}
}

// referNotifyLocked checks a NOTIFY of the refer package the UA sent: it
// pays the first NOTIFY an accepted REFER owes, and none follows the one
// that terminated its subscription (RFC 3515 §2.4.7, RFC 6665 §4.2.2).
func (r *rig) referNotifyLocked(m *sip.Message, ev *sip.Event, seq uint32) {
	key := string(m.CallID()) + " " + string(m.ToTag()) + " " + string(m.FromTag()) + " " + string(ev.ID)
	delete(r.owed, key)
	if end, ok := r.ended[key]; ok && seq > end {
		r.t.Fatalf("the UA sent a NOTIFY (CSeq %d) after the one that terminated the subscription (CSeq %d):\n%s", seq, end, m.Bytes())
	}
	if ss, _ := m.SubscriptionState(); ss.Is("terminated") {
		if end, ok := r.ended[key]; !ok || seq < end {
			r.ended[key] = seq
		}
	}
}

// expiresLocked checks the expires of a NOTIFY the UA sent as notifier of
// a subscription the peer asked for: it is the time left, so it cannot go
// past what the 2xx to the last SUBSCRIBE granted (RFC 6665 §4.2.1.1: a
// notifier MUST NOT lengthen it; §4.2.2).
func (r *rig) expiresLocked(m *sip.Message) {
	ss, err := m.SubscriptionState()
	if err != nil || !ss.HasExpires || r.notifies[string(via(m))] {
		return // a retransmission says what it said when it was new
	}
	r.notifies[string(via(m))] = true
	end, ok := r.granted[string(m.CallID())+" "+string(m.FromTag())+" "+string(m.ToTag())+" "+string(m.Get(sip.HeaderEvent))]
	if at := r.clock.Now().Add(time.Duration(ss.Expires) * time.Second); ok && at.After(end.Add(time.Second)) {
		r.t.Fatalf("the UA sent a NOTIFY whose expires (%d s) goes past the end it granted (%s):\n%s", ss.Expires, end.Format("15:04:05"), m.Bytes())
	}
}

// via returns the branch of m's top Via.
func via(m *sip.Message) []byte {
	v, _ := m.TopVia()
	return v.Branch
}

// checkOwed fails if the UA accepted a REFER without sending its first
// NOTIFY right away.
func (r *rig) checkOwed() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for key := range r.owed {
		r.t.Fatalf("REFER %s accepted without a NOTIFY after its 2xx (RFC 6665 §4.2.1.2: at once)", key)
	}
}

// checkRequest returns what is wrong with a SUBSCRIBE or NOTIFY the UA
// sent, "" if nothing.
func checkRequest(m *sip.Message) string {
	// 192.0.2.9 and the body "hello" appear only in embedded headers of
	// the peer's Refer-To that a UA must write itself or not copy (Via,
	// From, Contact, body; Referred-By is taken from the REFER): RFC 3261
	// §19.1.5, RFC 3892 §3.
	if bytes.Contains(m.Bytes(), []byte("192.0.2.9")) || m.Method() == sip.MethodInvite && string(m.Body()) == "hello" {
		return "request with what only a forbidden embedded header held"
	}
	switch m.Method() {
	case sip.MethodSubscribe:
		// RFC 6665 §3.1.2: exactly one Event; §3.1.1: Expires SHOULD be
		// present, and this stack always writes it.
		if _, err := m.Event(); err != nil || m.Count(sip.HeaderEvent) != 1 {
			return "SUBSCRIBE without one valid Event"
		}
		if _, ok, err := m.Expires(); !ok || err != nil {
			return "SUBSCRIBE without Expires"
		}
	case sip.MethodNotify:
		ev, err := m.Event()
		if err != nil || m.Count(sip.HeaderEvent) != 1 {
			return "NOTIFY without one valid Event" // RFC 6665 §3.2.1
		}
		ss, err := m.SubscriptionState()
		if err != nil {
			return "NOTIFY without Subscription-State" // RFC 6665 §4.2.2
		}
		if (ss.Is("active") || ss.Is("pending")) && !ss.HasExpires {
			return "NOTIFY active or pending without expires" // RFC 6665 §4.2.2: MUST
		}
		if !ss.Is("active") && !ss.Is("pending") && !ss.Is("terminated") {
			return "NOTIFY with an unknown Subscription-State"
		}
		if string(ev.Type) == "refer" {
			// RFC 3515 §2.4.5: a message/sipfrag body that begins with a
			// status line.
			ct, err := m.ContentType()
			if err != nil || !sipfrag.IsContentType(&ct) {
				return "refer NOTIFY whose body is not message/sipfrag"
			}
			code, _, err := sipfrag.Status(m.Body())
			if err != nil {
				return "refer NOTIFY whose sipfrag has no status line"
			}
			// RFC 3515 §2.4.7: the NOTIFY of a final status ends the
			// subscription.
			if code >= 200 && !ss.Is("terminated") {
				return "refer NOTIFY of a final status that does not terminate the subscription"
			}
		}
	}
	return ""
}

func formsDialog(m sip.Method) bool {
	return m == sip.MethodInvite || m == sip.MethodSubscribe || m == sip.MethodRefer || m == sip.MethodNotify
}

// learnLocked records a dialog the peer shares with the UA, or updates it.
func (r *rig) learnLocked(callID, uaTag, peerTag string, seq int, invite bool) *peerDialog {
	for _, d := range r.dialogs {
		if d.callID == callID && d.uaTag == uaTag && d.peerTag == peerTag {
			d.seq = max(d.seq, seq)
			if invite {
				d.inviteSeq = seq
			}
			return d
		}
	}
	if len(r.dialogs) == maxPeerDialogs {
		r.dialogs = r.dialogs[1:]
	}
	d := &peerDialog{callID: callID, uaTag: uaTag, peerTag: peerTag, seq: seq}
	if invite {
		d.inviteSeq = seq
	}
	r.dialogs = append(r.dialogs, d)
	return d
}

// dialog returns a copy of a dialog the peer knows, picked by i, with its
// next CSeq number taken (or with stale, the last one again); an invented
// one when i is past the known ones.
func (r *rig) dialog(i int, stale bool) (peerDialog, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if i >= len(r.dialogs) {
		return peerDialog{callID: "nope", uaTag: "x" + strconv.Itoa(i%2), peerTag: "p0"}, 1 + i
	}
	d := r.dialogs[len(r.dialogs)-1-i]
	if !stale || d.seq == 0 {
		d.seq++
	}
	return *d, d.seq
}

// nextSeq takes the next CSeq number of the peer in a dialog, entering the
// dialog if the peer did not know it.
func (r *rig) nextSeq(callID, uaTag, peerTag string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	d := r.learnLocked(callID, uaTag, peerTag, 0, false)
	d.seq++
	return d.seq
}

// pickReceived returns a request the UA sent, picked by i among those
// that match ok, the latest first.
func (r *rig) pickReceived(i int, ok func(m *sip.Message) bool) (peerGot, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var c []peerGot
	for j := len(r.received) - 1; j >= 0; j-- {
		if ok(r.received[j].msg) {
			c = append(c, r.received[j])
		}
	}
	if len(c) == 0 {
		return peerGot{}, false
	}
	return c[i%len(c)], true
}

// peerRequest is a request the peer sends the UA.
type peerRequest struct {
	method, callID, fromTag, toTag string
	seq                            int
	headers                        []string
	contentType, body              string
	reuse                          bool // send the last request again instead: a retransmission
}

// send sends q to the UA.
func (r *rig) send(q *peerRequest) {
	to := "<sip:ua@127.0.0.1:5060>"
	if q.toTag != "" {
		to += ";tag=" + q.toTag
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s sip:ua@127.0.0.1:5060 SIP/2.0\r\nMax-Forwards: 70\r\nFrom: <sip:peer@127.0.0.1:5080>;tag=%s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %d %s\r\nContact: <sip:peer@127.0.0.1:5080>\r\n",
		q.method, q.fromTag, to, q.callID, q.seq, q.method)
	for _, h := range q.headers {
		b.WriteString(h)
		b.WriteString("\r\n")
	}
	if q.body != "" {
		fmt.Fprintf(&b, "Content-Type: %s\r\nContent-Length: %d\r\n\r\n%s", q.contentType, len(q.body), q.body)
	} else {
		b.WriteString("Content-Length: 0\r\n\r\n")
	}
	r.mu.Lock()
	wire := b.String()
	if q.reuse && r.lastBranch != "" {
		// A retransmission is the same request again (RFC 3261 §17.1.2.2);
		// a branch is never reused for another (§8.1.1.7).
		wire = r.lastWire
	} else {
		r.branches++
		r.lastBranch = "z9hG4bK" + strconv.Itoa(r.branches)
		r.lastWire = wire
		if q.method == "REFER" {
			r.refers[r.lastBranch+" REFER"] = r.clock.Now()
		}
		if q.method == "SUBSCRIBE" {
			for _, h := range q.headers {
				if v, ok := strings.CutPrefix(h, "Event: "); ok {
					r.subscribed[r.lastBranch] = v
				}
			}
		}
	}
	branch := r.lastBranch
	r.mu.Unlock()
	r.peer.SendRequest(r.uaAt, []byte(branch), []byte(wire))
}

// respond has the peer answer g with code, To tag tag (unless g has one)
// and extra header lines; a 101-299 carries the peer's Contact, at the
// address g came to.
func (r *rig) respond(g peerGot, code int, tag string, extra ...string) {
	b := sip.AppendResponse(nil, g.msg, code, "", tag)
	if code > 100 && code < 300 || code >= 300 && code < 400 {
		b = append(b, "Contact: <sip:peer@"+g.at.AddrPort.String()+">\r\n"...)
	}
	for _, h := range extra {
		b = append(b, h+"\r\n"...)
	}
	if cseq, _ := g.msg.CSeq(); code > 100 && code < 300 && formsDialog(cseq.Method) {
		used := string(g.msg.ToTag())
		if used == "" {
			used = tag
		}
		r.mu.Lock()
		r.learnLocked(string(g.msg.CallID()), string(g.msg.FromTag()), used, 0, false)
		r.mu.Unlock()
	}
	r.peer.Send(r.uaAt, sip.AppendNoBody(b))
}

// advance moves the clock on by one of the jumps the input can ask for.
func (r *rig) advance(arg byte) {
	r.clock.Advance([...]time.Duration{0, 100 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second, 64 * time.Second}[arg%10])
}

// checkRefers fails if a REFER of the peer has gone 64*T1 without a final
// response: RFC 3515 §2.4.2, the recipient "MUST return a 202 Accepted
// response before the REFER transaction expires" (or refuse it).
func (r *rig) checkRefers() {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.clock.Now()
	for key, at := range r.refers {
		if now.Sub(at) >= 64*r.ua.T1() {
			r.t.Fatalf("%s sent at %s has no final response at %s", key, at.Format("15:04:05.000"), now.Format("15:04:05.000"))
		}
	}
}

// checkEmpty fails unless the UA holds no transaction, timer or dialog.
func (r *rig) checkEmpty() {
	if c, srv := r.ua.Transactions().Transactions(); c+srv != 0 {
		r.t.Fatalf("%d client and %d server transactions left after Close", c, srv)
	}
	if n := r.clock.Pending(); n != 0 {
		r.t.Fatalf("%d timers left after Close", n)
	}
	if n := r.ua.Dialogs(); n != 0 {
		r.t.Fatalf("%d dialogs left after Close", n)
	}
}

// cancelled is a context that has ended: Unsubscribe, Refresh and Hangup
// with it return without waiting for the peer.
func cancelled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// The values the peer writes, picked by the input.
var (
	subEvents  = [...]string{"test", "test;id=1", "test;id=2", "nope", "fork", "", "te st", "Test"}
	subExpires = [...]string{"", "0", "60", "3600", "5", "abc", "4294967296", "20"}
	subAccepts = [...]string{"", "text/plain", "application/nothing", "*/*"}
	subStates  = [...]string{
		"active;expires=60", "pending;expires=30", "active", "pending",
		"terminated;reason=deactivated", "terminated;reason=probation;retry-after=5", "terminated;reason=rejected", "terminated;reason=timeout",
		"terminated;reason=giveup;retry-after=10", "terminated;reason=noresource", "terminated;reason=invariant", "terminated",
		"", "waiting;expires=5", "active;expires=0", "terminated;reason=other;retry-after=x",
	}
	subCodes = [...]int{100, 180, 200, 202, 204, 423, 481, 489, 404, 408, 500, 503, 603, 486, 200, 302}
)

// subScene is the UA with its event Manager opposite the peer, and what
// the test got from the Manager.
type subScene struct {
	*rig
	ev *event.Manager

	// Guarded by rig.mu.
	answer    byte // how OnSubscribe answers the peer's next SUBSCRIBE
	subs      []*event.Subscription
	notifiers []*event.Notifier
	seen      map[any]bool
	ended     map[any]bool // OnTerminated came
	calls     []*dialog.Call
	keepFork  bool
}

// newSubScene starts the scene; cfg's bits set the Manager's limits and
// the "test" package's options.
func newSubScene(t *testing.T, cfg byte) *subScene {
	s := &subScene{seen: make(map[any]bool), ended: make(map[any]bool)}
	s.rig = newRig(t, dialog.Config{MaxDialogs: 8})
	ecfg := event.Config{}
	if cfg&1 != 0 {
		ecfg.MaxPerDialog = 2
	}
	if cfg&2 != 0 {
		ecfg.MaxSubscriptions = 6
	}
	if cfg&4 != 0 {
		ecfg.MaxPendingNotifies = 1
	}
	s.ev = event.New(s.ua, ecfg)
	p := event.Package{
		Name:              "test",
		DefaultExpires:    120 * time.Second,
		Accept:            []string{"text/plain"},
		MultiplePerDialog: cfg&32 != 0,
		Coalesce:          cfg&64 != 0,
		OnSubscribe:       s.onSubscribe,
		OnTerminated: func(n *event.Notifier, _ error) {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.ended[n] {
				t.Fatalf("a notifier's OnTerminated came twice")
			}
			s.ended[n] = true
		},
	}
	if cfg&8 != 0 {
		p.MinExpires = 30 * time.Second
	}
	if cfg&16 != 0 {
		p.MaxExpires = 300 * time.Second
	}
	if cfg&128 != 0 {
		p.MinNotifyInterval = 5 * time.Second
	}
	if err := s.ev.Register(p); err != nil {
		t.Fatal(err)
	}
	// A package this UA subscribes to but does not serve, whose SUBSCRIBEs
	// may fork (RFC 6665 §4.1.4).
	if err := s.ev.Register(event.Package{Name: "fork", DefaultExpires: 60 * time.Second, Accept: []string{"text/plain"}, Forking: true}); err != nil {
		t.Fatal(err)
	}
	return s
}

// onSubscribe answers a SUBSCRIBE for "test" as the input said.
func (s *subScene) onSubscribe(n *event.Notifier, r *event.SubscribeRequest) event.Answer {
	s.mu.Lock()
	if !s.seen[n] {
		s.seen[n] = true
		s.notifiers = append(s.notifiers, n)
	}
	a := s.answer
	s.mu.Unlock()
	switch a % 8 {
	case 1:
		return event.Answer{ContentType: "text/plain", Body: []byte("s0")}
	case 2:
		return event.Answer{State: event.StatePending}
	case 3:
		return event.Answer{Expires: 10 * time.Second, ContentType: "text/plain", Body: []byte("s1")}
	case 4:
		return event.Answer{Code: 403}
	case 5:
		return event.Answer{Code: 603, Headers: []dialog.Header{{Name: "Retry-After", Value: "5"}}}
	case 6:
		return event.Answer{ContentType: "application/bad", Body: []byte("x")}
	case 7:
		return event.Answer{Code: 202, State: event.StateActive, ContentType: "text/plain", Body: []byte("s2")}
	}
	return event.Answer{}
}

// silence lets the peer fall silent for two hours, longer than any
// subscription it can be granted or grant (an hour at most), and checks
// that every subscription has ended: refreshes go unanswered, Timer N and
// expiry end them (RFC 6665 §4.1.2.2, §4.1.2.4, §4.2.1.4).
func (s *subScene) silence() {
	for i := 0; i < 24; i++ {
		s.clock.Advance(5 * time.Minute)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sub := range s.subs {
		select {
		case <-sub.Done():
		default:
			s.t.Fatalf("a subscription (%s;id=%s) is still %v two hours after the peer's last message (expires %s, now %s)",
				sub.Package(), sub.ID(), sub.State(), sub.Expires().Format("15:04:05"), s.clock.Now().Format("15:04:05"))
		}
	}
	for _, n := range s.notifiers {
		select {
		case <-n.Done():
		default:
			s.t.Fatalf("a notifier (%s;id=%s) is still %v two hours after the peer's last message (expires %s, now %s)",
				n.Package(), n.ID(), n.State(), n.Expires().Format("15:04:05"), s.clock.Now().Format("15:04:05"))
		}
	}
}

// options are the UA's subscription options, as the argument says.
func (s *subScene) options(a, b byte) *event.SubscribeOptions {
	o := &event.SubscribeOptions{
		Package:         [...]string{"test", "fork"}[a&1],
		ID:              [...]string{"", "1", "2", "bad id"}[a>>1&3],
		Expires:         [...]time.Duration{0, 30 * time.Second, time.Hour, time.Second}[a>>3&3],
		Poll:            a&32 != 0,
		NoRefresh:       a&64 != 0,
		AutoResubscribe: a&128 != 0,
		AcceptMissingID: b&1 != 0,
		OnNotify: func(sub *event.Subscription, n *event.Notification) {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.ended[sub] {
				s.t.Fatalf("OnNotify after OnTerminated (%s;id=%s)", sub.Package(), sub.ID())
			}
		},
		OnTerminated: func(sub *event.Subscription, _ *event.Termination) {
			select {
			case <-sub.Done():
			default:
				s.t.Fatalf("OnTerminated before Done is closed")
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.ended[sub] {
				s.t.Fatalf("OnTerminated twice (%s;id=%s)", sub.Package(), sub.ID())
			}
			s.ended[sub] = true
		},
		OnFork: func(f *event.Subscription) bool {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.addSubLocked(f)
			s.keepFork = !s.keepFork
			return s.keepFork
		},
		OnResubscribe: func(_, n *event.Subscription) {
			s.mu.Lock()
			s.addSubLocked(n)
			s.mu.Unlock()
		},
	}
	if b&2 != 0 {
		o.Accept = []string{"application/other"}
	}
	return o
}

func (s *subScene) addSubLocked(sub *event.Subscription) {
	if sub != nil && !s.seen[sub] {
		s.seen[sub] = true
		s.subs = append(s.subs, sub)
	}
}

func (s *subScene) addSub(sub *event.Subscription) {
	s.mu.Lock()
	s.addSubLocked(sub)
	s.mu.Unlock()
}

// step runs one operation.
func (s *subScene) step(op, a, b byte) {
	switch op % 10 {
	case 0: // the peer subscribes outside any dialog
		s.mu.Lock()
		s.answer = b
		s.mu.Unlock()
		var hs []string
		if ev := subEvents[a>>3&7]; ev != "" {
			hs = append(hs, "Event: "+ev)
		}
		if exp := subExpires[a>>6|b>>3&4]; exp != "" {
			hs = append(hs, "Expires: "+exp)
		}
		if acc := subAccepts[b>>3&3]; acc != "" {
			hs = append(hs, "Accept: "+acc)
		}
		s.send(&peerRequest{method: "SUBSCRIBE", callID: "s" + strconv.Itoa(int(a&3)), fromTag: "p" + strconv.Itoa(int(a>>2&1)), seq: 1, headers: hs, reuse: b&0x80 != 0})
	case 1: // the peer sends a request inside a dialog, real or invented
		s.mu.Lock()
		s.answer = a >> 4
		s.mu.Unlock()
		d, seq := s.dialog(int(a&15), a&0x80 != 0)
		method := [...]string{"SUBSCRIBE", "SUBSCRIBE", "SUBSCRIBE", "SUBSCRIBE", "BYE", "ACK", "INFO", "SUBSCRIBE"}[b&7]
		q := &peerRequest{method: method, callID: d.callID, fromTag: d.peerTag, toTag: d.uaTag, seq: seq}
		if method == "ACK" {
			q.seq = d.inviteSeq
		}
		if method == "SUBSCRIBE" {
			if ev := subEvents[b>>3&7]; ev != "" {
				q.headers = append(q.headers, "Event: "+ev)
			}
			exp := [...]string{"", "0", "60", "5"}[b>>6]
			if b&7 == 7 {
				exp = "0"
			}
			if exp != "" {
				q.headers = append(q.headers, "Expires: "+exp)
			}
		}
		s.send(q)
	case 2: // the peer notifies
		s.peerNotify(a, b, &subNotify)
	case 3: // the peer answers a request of the UA
		g, ok := s.pickReceived(int(a), func(m *sip.Message) bool { return m.Method() != sip.MethodAck })
		if !ok {
			return
		}
		code := subCodes[b&15]
		var extra []string
		switch {
		case code == 423:
			extra = append(extra, "Min-Expires: 200")
		case code == 503:
			extra = append(extra, "Retry-After: 5")
		case code >= 200 && code < 300:
			if exp := [...]string{"", "Expires: 30", "Expires: 0", "Expires: 3600"}[b>>5&3]; exp != "" {
				extra = append(extra, exp)
			}
		}
		s.respond(g, code, "r"+strconv.Itoa(int(b>>4&1)), extra...)
	case 4: // the UA subscribes outside any dialog
		target := [...]string{"sip:peer@127.0.0.1:5080", "sip:peer@127.0.0.1:5080", "sip:nobody@127.0.0.1:5999", "not a uri"}[b>>2&3]
		if sub, err := s.ev.Subscribe(target, s.options(a, b)); err == nil {
			s.addSub(sub)
		}
	case 5: // the UA subscribes inside a dialog: a call's or a subscription's
		if d := s.pickDialog(b); d != nil {
			if sub, err := s.ev.SubscribeDialog(d, s.options(a, b>>4)); err == nil {
				s.addSub(sub)
			}
		}
	case 6: // the UA acts on one of its subscriptions
		s.mu.Lock()
		if len(s.subs) == 0 {
			s.mu.Unlock()
			return
		}
		sub := s.subs[len(s.subs)-1-int(a)%len(s.subs)]
		s.mu.Unlock()
		switch b % 4 {
		case 0:
			sub.Unsubscribe(cancelled())
		case 1:
			sub.Close()
		case 2:
			sub.Refresh(cancelled())
		case 3:
			if n, err := sub.Resubscribe(); err == nil {
				s.addSub(n)
			}
		}
	case 7: // the UA acts as notifier
		s.mu.Lock()
		if len(s.notifiers) == 0 {
			s.mu.Unlock()
			return
		}
		n := s.notifiers[len(s.notifiers)-1-int(a)%len(s.notifiers)]
		s.mu.Unlock()
		ctype := [...]string{"text/plain", "application/bad"}[b>>3&1]
		switch b & 7 {
		case 0, 1:
			n.Notify(event.StateActive, ctype, []byte("n"+strconv.Itoa(int(b))))
		case 2:
			n.Notify(event.StatePending, ctype, nil)
		case 3, 4:
			reason := [...]event.Reason{event.ReasonNoResource, event.ReasonDeactivated, event.ReasonProbation, event.ReasonRejected, event.ReasonTimeout, event.ReasonGiveUp, event.ReasonInvariant, ""}[b>>4&7]
			n.Terminate(reason, time.Duration(b>>7)*5*time.Second, ctype, []byte("end"))
		case 5:
			n.SetMinInterval(time.Duration(b>>4) * time.Second)
		case 6:
			n.Notify(event.StateTerminated, ctype, nil) // refused: ErrState
		case 7:
			n.Terminate(event.ReasonTimeout, 0, "", nil)
		}
	case 8: // the UA places or ends a call, or closes its Manager
		switch {
		case a == 0xff:
			s.ev.Close()
		case b&1 == 0:
			if c, err := s.ua.Dial("sip:peer@127.0.0.1:5080", nil); err == nil {
				s.mu.Lock()
				s.calls = append(s.calls, c)
				s.mu.Unlock()
			}
		default:
			s.mu.Lock()
			if len(s.calls) == 0 {
				s.mu.Unlock()
				return
			}
			c := s.calls[int(a)%len(s.calls)]
			s.mu.Unlock()
			c.Hangup(cancelled())
		}
	case 9: // time passes
		s.advance(a)
	}
}

// pickDialog returns a dialog of the UA to subscribe in: a call's, a
// subscription's or a notifier's.
func (s *subScene) pickDialog(b byte) *dialog.Dialog {
	s.mu.Lock()
	var c []func() *dialog.Dialog
	for _, x := range s.calls {
		c = append(c, x.Dialog)
	}
	for _, x := range s.subs {
		c = append(c, x.Dialog)
	}
	for _, x := range s.notifiers {
		c = append(c, x.Dialog)
	}
	s.mu.Unlock()
	if len(c) == 0 {
		return nil
	}
	return c[len(c)-1-int(b&15)%len(c)]()
}

// notifyKit is what a NOTIFY of the peer may say, for one event package.
type notifyKit struct {
	events  [8]string    // Event values; "" at index 0 means the natural one
	states  [16]string   // Subscription-State values, "" for none
	bodies  [4][2]string // content type and body, "" for none
	creates sip.Method   // the requests of the UA that NOTIFYs answer
	natural func(m *sip.Message) string
}

// peerNotify has the peer send a NOTIFY: in a dialog it shares with the
// UA, for a request of the UA outside a dialog (before or instead of its
// 2xx, from one fork or another), or in an invented dialog. Its Event is
// the natural one for the request it answers, or another.
func (r *rig) peerNotify(a, b byte, kit *notifyKit) {
	var callID, uaTag, peerTag, natural string
	seq := 0
	switch a & 3 {
	case 0, 2: // a dialog the peer knows
		var d peerDialog
		d, seq = r.dialog(int(a>>2&15), b&0x80 != 0)
		callID, uaTag, peerTag = d.callID, d.uaTag, d.peerTag
		if g, ok := r.pickReceived(0, func(m *sip.Message) bool {
			return m.Method() == kit.creates && string(m.CallID()) == callID
		}); ok {
			natural = kit.natural(g.msg)
		}
	case 1: // a request of the UA, with the tag of one fork or another
		g, ok := r.pickReceived(int(a>>2&3), func(m *sip.Message) bool { return m.Method() == kit.creates })
		if !ok {
			return
		}
		callID, uaTag = string(g.msg.CallID()), string(g.msg.FromTag())
		if peerTag = string(g.msg.ToTag()); peerTag == "" {
			peerTag = [...]string{"r0", "r1", "n0", "n1"}[a>>4&3]
		}
		natural = kit.natural(g.msg)
		seq = r.nextSeq(callID, uaTag, peerTag)
	case 3:
		callID, uaTag, peerTag, seq = "nope", "x", "p0", 1
	}
	ev := natural
	if v := b & 7; v != 0 || ev == "" {
		ev = kit.events[v]
	}
	q := &peerRequest{method: "NOTIFY", callID: callID, fromTag: peerTag, toTag: uaTag, seq: seq, reuse: b&0x80 != 0 && a&1 == 0}
	if ev != "" {
		q.headers = append(q.headers, "Event: "+ev)
	}
	if st := kit.states[b>>3&15]; st != "" {
		q.headers = append(q.headers, "Subscription-State: "+st)
	}
	q.contentType, q.body = kit.bodies[a>>6][0], kit.bodies[a>>6][1]
	r.send(q)
}

// subNotify is what the peer's NOTIFYs say in FuzzSubscriptions.
var subNotify = notifyKit{
	events:  subEvents,
	states:  subStates,
	bodies:  [4][2]string{{}, {"text/plain", "n1"}, {"application/bad", "x"}, {"text/plain;charset=utf-8", "u"}},
	creates: sip.MethodSubscribe,
	natural: func(m *sip.Message) string { return string(m.Get(sip.HeaderEvent)) },
}

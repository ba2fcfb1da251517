// The transfer demo's stage: Alice, Bob and Carol as three dialog UAs in
// this process, and the two stories it runs among them, a blind and an
// attended transfer (RFC 5589 §6.1, §7.3).

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/sipxfer/sipxfer/dialog"
	"github.com/sipxfer/sipxfer/event"
	"github.com/sipxfer/sipxfer/refer"
	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transport"
)

// person is one of the three user agents.
type person struct {
	name  string
	ua    *dialog.UA
	ev    *event.Manager
	agent *refer.Agent
	uri   string
	calls chan *dialog.Call  // calls to this person
	track func(*dialog.Call) // stage.track
	media mediaDesc          // what its session descriptions say, set once listening
}

// stage is the three user agents and what watches them.
type stage struct {
	f      *demoFlags
	ladder *Ladder
	pcap   *PcapWriter
	people []*person

	mu    sync.Mutex
	calls []*dialog.Call // the calls of the current section, for settle
}

// start makes the three user agents.
func (s *stage) start(tracer transport.Tracer) error {
	var net *transport.Network
	if s.f.loss > 0 {
		net = transport.NewNetwork(transport.SystemClock(), time.Now().UnixNano())
		// A little delay too, so that retransmissions and answers can cross.
		net.SetFaults(transport.Faults{Loss: s.f.loss, Delay: time.Millisecond, Jitter: 5 * time.Millisecond})
	}
	var tlsConf transport.Config
	if s.f.proto == transport.TLS {
		c, err := transport.SelfSignedTLS()
		if err != nil {
			return err
		}
		c.ServerName = "localhost" // the certificate names localhost, not 127.0.0.2
		tlsConf.TLS = c
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	for i, name := range []string{"Alice", "Bob", "Carol"} {
		p := &person{name: name, calls: make(chan *dialog.Call, 8), track: s.track}
		tc := tlsConf
		tc.Tracer = tracer
		p.ua = dialog.NewUA(dialog.Config{User: strings.ToLower(name), Logger: quiet, Transport: tc, OnInvite: p.answer, OnReInvite: p.reanswer})
		p.ev = event.New(p.ua, event.Config{})
		var err error
		p.agent, err = refer.New(p.ua, p.ev, refer.Config{CallOptions: func(*refer.Incoming) *dialog.CallOptions { return p.withSDP() }})
		if err != nil {
			return err
		}
		// Streams get an address each (127.0.0.1, .2, .3): a connection's
		// own port is ephemeral, so the ladder tells parties apart by IP.
		ip := netip.MustParseAddr("127.0.0.1")
		if s.f.proto != transport.UDP {
			ip = netip.AddrFrom4([4]byte{127, 0, 0, byte(1 + i)})
		}
		var a transport.Addr
		switch {
		case net != nil:
			a, err = p.ua.ListenMem(net, transport.Addr{Proto: transport.UDP, AddrPort: netip.AddrPortFrom(ip, uint16(5061+i))})
		case s.f.proto == transport.TCP:
			a, err = p.ua.ListenTCP(netip.AddrPortFrom(ip, 0))
		case s.f.proto == transport.TLS:
			a, err = p.ua.ListenTLS(netip.AddrPortFrom(ip, 0))
		default:
			a, err = p.ua.ListenUDP(netip.AddrPortFrom(ip, 0))
		}
		if err != nil {
			return err
		}
		p.uri, _ = p.ua.URI(a.Proto)
		p.media = newMediaDesc(a.AddrPort.Addr(), a.AddrPort.Port(), uint64(1000*(i+1))) // 1000, 2000, 3000: distinct o= lines on one address
		s.ladder.AddParty(name, a)
		s.people = append(s.people, p)
	}
	return nil
}

func (s *stage) stop() {
	for _, p := range s.people {
		p.ev.Close()
		p.ua.Close()
	}
}

// answer is every person's OnInvite: an INVITE with Replaces takes over
// the call it names (RFC 3891); any other rings and is answered.
func (p *person) answer(c *dialog.Call, req *sip.Message) {
	p.track(c)
	p.calls <- c
	body := p.media.answer(nil, req.Body())
	if len(req.Body()) == 0 {
		body = p.media.offer()
	}
	if p.agent.AcceptReplaces(c, req, "application/sdp", body) {
		return
	}
	c.Ring()
	c.Answer("application/sdp", body)
}

// reanswer is every person's OnReInvite: the answer to a re-INVITE's offer
// (a=recvonly to a hold's a=sendonly), versioned after the last one (RFC
// 3264 §6.1, §8).
func (p *person) reanswer(c *dialog.Call, req *sip.Message) (int, []byte) {
	if len(req.Body()) == 0 {
		return 200, c.LocalBody()
	}
	return 200, p.media.answer(c.LocalBody(), req.Body())
}

// withSDP is the options of a call p places: its SDP offer.
func (p *person) withSDP() *dialog.CallOptions {
	return &dialog.CallOptions{InitialOptions: dialog.InitialOptions{RequestOptions: dialog.RequestOptions{ContentType: "application/sdp", Body: p.media.offer()}}}
}

// next waits for the next call to p.
func (p *person) next(ctx context.Context) (*dialog.Call, error) {
	select {
	case c := <-p.calls:
		return c, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%s got no call: %w", p.name, ctx.Err())
	}
}

// ended waits for c to end.
func ended(ctx context.Context, who string, c *dialog.Call) error {
	select {
	case <-c.Done():
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s's call did not end: %w", who, ctx.Err())
	}
}

// A timeoutError is a transfer given up at -timeout. Its text says so and
// no more: what the layer below reports then ("INVITE cancelled") may
// contradict the ladder, which can show the answer that came too late.
type timeoutError struct {
	during  string
	timeout time.Duration
	err     error
}

func (e *timeoutError) Error() string {
	return fmt.Sprintf("-timeout %v reached during %s", e.timeout, e.during)
}

func (e *timeoutError) Unwrap() error { return e.err }

// fail describes the failure of step what: a timeoutError if the
// section's time is up, else what and err.
func (s *stage) fail(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
		return &timeoutError{during: what, timeout: s.f.timeout, err: err}
	}
	return fmt.Errorf("%s: %w", what, err)
}

// track records a call of the current section, for settle.
func (s *stage) track(c *dialog.Call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, c)
}

// settle, after a failed section, hangs up the calls it left and waits
// (at most settleWithin) for them and every dialog to end, so that the
// messages this sends are drawn in the section that caused them, above
// its summary, and the next section starts clean.
func (s *stage) settle() {
	ctx, cancel := context.WithTimeout(context.Background(), settleWithin)
	defer cancel()
	s.mu.Lock()
	calls := s.calls
	s.calls = nil
	s.mu.Unlock()
	// The callers hang up first; a callee hangs up only if its call is
	// still up a while later (its caller is not ours to hang up, as with
	// the calls the refer Agent places, or it is a late 2xx the UA ends
	// itself): hanging up both ends at once would cross two BYEs.
	var callees []*dialog.Call
	for _, c := range calls {
		if c.Outgoing() {
			go c.Hangup(ctx) // BYE or CANCEL, as its state needs
		} else {
			callees = append(callees, c)
		}
	}
	grace := time.NewTimer(settleGrace)
	defer grace.Stop()
	for _, c := range callees {
		select {
		case <-c.Done():
			continue
		case <-grace.C:
		case <-ctx.Done():
			return
		}
		// Grace is over: hang up this one and every other still up.
		for _, c := range callees {
			go c.Hangup(ctx)
		}
		break
	}
	for _, c := range calls {
		select {
		case <-c.Done():
		case <-ctx.Done():
			return
		}
	}
	// A late 2xx that a cancelled INVITE got is ACKed and hung up by the
	// UA itself: wait for its dialog to go too.
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		n := 0
		for _, p := range s.people {
			n += p.ua.Dialogs()
		}
		if n == 0 {
			return
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return
		}
	}
}

// settleWithin bounds settle; settleGrace is how long the callees' ends of
// the calls wait for their callers' BYE.
const (
	settleWithin = 3 * time.Second
	settleGrace  = 500 * time.Millisecond
)

// section runs one transfer story under its title, with its own -timeout,
// and sums it up.
func (s *stage) section(title string, story func(ctx context.Context) error) error {
	s.ladder.Section(title)
	for _, p := range s.people { // calls a failed section left unclaimed
		for len(p.calls) > 0 {
			<-p.calls
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.f.timeout)
	err := story(ctx)
	cancel()
	if err != nil {
		s.ladder.Ended() // the time to the failure, not to the end of the cleanup
		s.settle()
	}
	s.mu.Lock()
	s.calls = nil
	s.mu.Unlock()
	s.ladder.Summary(err)
	if err != nil {
		return fmt.Errorf("%s failed: %w", strings.ToLower(title[:1])+title[1:], err)
	}
	return nil
}

// blind runs the blind transfer.
func (s *stage) blind() error {
	return s.section("Blind transfer (RFC 5589 §6.1)", func(ctx context.Context) error {
		alice, bob, carol := s.people[0], s.people[1], s.people[2]
		s.ladder.Note("Alice calls Bob")
		ab, err := alice.ua.Invite(ctx, bob.uri, alice.withSDP())
		if ab != nil {
			s.track(ab) // even failed: a 2xx may have come as ctx ended
		}
		if err != nil {
			return s.fail(ctx, "Alice's call to Bob", err)
		}
		ba, err := bob.next(ctx)
		if err != nil {
			return s.fail(ctx, "Alice's call to Bob", err)
		}
		s.ladder.Note("Alice transfers Bob to Carol")
		tr, err := alice.agent.Refer(ab.Dialog(), &refer.ReferOptions{ReferTo: "<" + carol.uri + ">", ReferredBy: alice.agent.Self(ab.Dialog())})
		if err != nil {
			return err
		}
		res, err := tr.Wait(ctx)
		if err != nil {
			return s.fail(ctx, "the transfer", err)
		}
		s.ladder.Note(fmt.Sprintf("Bob reached Carol (%d %s); Alice hangs up", res.Code, res.Reason))
		if err := ab.Bye(ctx); err != nil {
			return s.fail(ctx, "Alice's BYE", err)
		}
		if err := ended(ctx, "Bob", ba); err != nil {
			return s.fail(ctx, "the end of Bob's call with Alice", err)
		}
		cb, err := carol.next(ctx)
		if err != nil {
			return s.fail(ctx, "Bob's call to Carol", err)
		}
		s.ladder.Note("Bob and Carol talk, then Carol hangs up")
		return s.bye(ctx, cb, "Carol")
	})
}

// attended runs the attended transfer.
func (s *stage) attended() error {
	return s.section("Attended transfer (RFC 5589 §7.3)", func(ctx context.Context) error {
		alice, bob, carol := s.people[0], s.people[1], s.people[2]
		s.ladder.Note("Alice calls Bob")
		ab, err := alice.ua.Invite(ctx, bob.uri, alice.withSDP())
		if ab != nil {
			s.track(ab) // even failed: a 2xx may have come as ctx ended
		}
		if err != nil {
			return s.fail(ctx, "Alice's call to Bob", err)
		}
		ba, err := bob.next(ctx)
		if err != nil {
			return s.fail(ctx, "Alice's call to Bob", err)
		}
		s.ladder.Note("Alice puts Bob on hold")
		// RFC 3264 §8.4: a=sendonly; §8: the new offer's o= version is one
		// more than the last.
		answer, err := ab.ReInvite(ctx, "application/sdp", alice.media.reoffer(ab.LocalBody(), "sendonly"))
		if err != nil {
			return s.fail(ctx, "the hold", err)
		}
		if dir := parseSDP(answer).dir; dir != "recvonly" {
			return fmt.Errorf("hold: Bob answered a=%s, not a=recvonly", dir)
		}
		s.ladder.Note("Alice consults Carol")
		ac, err := alice.ua.Invite(ctx, carol.uri, alice.withSDP())
		if ac != nil {
			s.track(ac) // even failed: a 2xx may have come as ctx ended
		}
		if err != nil {
			return s.fail(ctx, "Alice's call to Carol", err)
		}
		if _, err := carol.next(ctx); err != nil {
			return s.fail(ctx, "Alice's call to Carol", err)
		}
		s.ladder.Note("Alice transfers Bob to Carol, replacing her call with Carol")
		referTo, err := refer.AttendedReferTo(ac.Dialog())
		if err != nil {
			return err
		}
		tr, err := alice.agent.Refer(ab.Dialog(), &refer.ReferOptions{ReferTo: referTo, ReferredBy: alice.agent.Self(ab.Dialog())})
		if err != nil {
			return err
		}
		res, err := tr.Wait(ctx)
		if err != nil {
			return s.fail(ctx, "the transfer", err)
		}
		if err := ended(ctx, "Alice", ac); err != nil { // Carol ended it: replaced
			return s.fail(ctx, "the end of the replaced call", err)
		}
		s.ladder.Note(fmt.Sprintf("Bob replaced Alice's call with Carol (%d %s); Alice hangs up", res.Code, res.Reason))
		if err := ab.Bye(ctx); err != nil {
			return s.fail(ctx, "Alice's BYE", err)
		}
		if err := ended(ctx, "Bob", ba); err != nil {
			return s.fail(ctx, "the end of Bob's call with Alice", err)
		}
		cb, err := carol.next(ctx)
		if err != nil {
			return s.fail(ctx, "Bob's call to Carol", err)
		}
		s.ladder.Note("Bob and Carol talk, then Carol hangs up")
		return s.bye(ctx, cb, "Carol")
	})
}

// bye waits until c is established (its ACK may still be on its way) and
// hangs it up.
func (s *stage) bye(ctx context.Context, c *dialog.Call, who string) error {
	select {
	case <-c.Established():
	case <-c.Done():
		return fmt.Errorf("%s's call ended early: %w", who, c.Err())
	case <-ctx.Done():
		return s.fail(ctx, who+"'s BYE", ctx.Err())
	}
	if err := c.Bye(ctx); err != nil {
		return s.fail(ctx, who+"'s BYE", err)
	}
	return nil
}

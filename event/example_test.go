package event_test

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/sipxfer/sipxfer/dialog"
	"github.com/sipxfer/sipxfer/event"
	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transport"
)

// start runs a UA with its event Manager on an in-memory network.
func start(n *transport.Network, clock transport.Clock, name string, port uint16, cfg dialog.Config) (*dialog.UA, *event.Manager) {
	cfg.Clock, cfg.User, cfg.Logger = clock, name, nil
	ua := dialog.NewUA(cfg)
	ua.ListenMem(n, transport.Addr{Proto: transport.UDP, AddrPort: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port)})
	return ua, event.New(ua, event.Config{})
}

// A presence-like package: Bob serves it, Alice subscribes, Bob reports a
// change and ends the subscription.
func Example() {
	clock := transport.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	net := transport.NewNetwork(clock, 1)
	alice, aliceEvents := start(net, clock, "alice", 5060, dialog.Config{})
	bob, bobEvents := start(net, clock, "bob", 5070, dialog.Config{})
	defer alice.Close()
	defer bob.Close()
	defer aliceEvents.Close()
	defer bobEvents.Close()

	var watcher *event.Notifier
	bobEvents.Register(event.Package{
		Name:   "x-status",
		Accept: []string{"text/plain"},
		OnSubscribe: func(n *event.Notifier, r *event.SubscribeRequest) event.Answer {
			watcher = n
			return event.Answer{ContentType: "text/plain", Body: []byte("available")}
		},
	})
	aliceEvents.Register(event.Package{Name: "x-status", Accept: []string{"text/plain"}})

	s, err := aliceEvents.Subscribe("sip:bob@127.0.0.1:5070", &event.SubscribeOptions{
		Package: "x-status",
		Expires: 10 * time.Minute,
		OnNotify: func(_ *event.Subscription, n *event.Notification) {
			fmt.Printf("NOTIFY %s %q\n", n.State, n.Body)
		},
		OnTerminated: func(_ *event.Subscription, t *event.Termination) {
			fmt.Printf("ended: %v, reason %s, may retry: %v\n", t.Err, t.Reason, t.Retry.Allowed)
		},
	})
	if err != nil {
		panic(err)
	}
	s.Wait(context.Background())
	watcher.Notify(event.StateActive, "text/plain", []byte("busy"))
	watcher.Terminate(event.ReasonNoResource, 0, "", nil)
	// Output:
	// NOTIFY active "available"
	// NOTIFY active "busy"
	// NOTIFY terminated ""
	// ended: event: terminated by the notifier, reason noresource, may retry: false
}

// The implicit subscription of a REFER (RFC 3515 §2.4.4), as package refer
// builds it: the recipient creates the notifier side with NewNotifier, the
// sender expects NOTIFYs for refer;id=<CSeq> with Expect.
func ExampleManager_NewNotifier() {
	clock := transport.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	net := transport.NewNetwork(clock, 1)
	alice, aliceEvents := start(net, clock, "alice", 5060, dialog.Config{})
	bob, bobEvents := start(net, clock, "bob", 5070, dialog.Config{OnInvite: func(c *dialog.Call, _ *sip.Message) { c.Answer("", nil) }})
	defer alice.Close()
	defer bob.Close()
	defer aliceEvents.Close()
	defer bobEvents.Close()
	refer := event.Package{Name: "refer", Accept: []string{"message/sipfrag"}, MultiplePerDialog: true}
	aliceEvents.Register(refer)
	bobEvents.Register(refer)

	// The transferee (Bob) accepts the REFER and reports progress.
	bob.Handle("REFER", dialog.HandlerFunc(func(r *dialog.Request) {
		cseq, _ := r.Msg.CSeq()
		d, _ := r.CreateDialog() // the REFER's dialog
		n, err := bobEvents.NewNotifier(d, &event.NotifierOptions{Package: "refer", ID: strconv.Itoa(int(cseq.Seq)), Expires: time.Minute})
		if err != nil {
			r.Respond(500, "", nil)
			return
		}
		r.Respond(200, "", nil)
		n.Notify(event.StateActive, "message/sipfrag", []byte("SIP/2.0 100 Trying\r\n"))
		n.Terminate(event.ReasonNoResource, 0, "message/sipfrag", []byte("SIP/2.0 200 OK\r\n"))
	}))

	// The transferor (Alice) sends the REFER in the call's dialog.
	c, err := alice.Invite(context.Background(), "sip:bob@127.0.0.1:5070", nil)
	if err != nil {
		panic(err)
	}
	d := c.Dialog()
	req, dst, _ := d.NewRequest("REFER", &dialog.RequestOptions{Headers: []dialog.Header{{Name: "Refer-To", Value: "<sip:carol@127.0.0.1:5080>"}}})
	seq, _ := d.LocalSeq()
	s, _ := aliceEvents.Expect(d, &event.SubscribeOptions{
		Package: "refer",
		ID:      strconv.Itoa(int(seq)),
		OnNotify: func(_ *event.Subscription, n *event.Notification) {
			fmt.Printf("%s: %q\n", n.State, n.Body)
		},
	})
	d.Request(req, dst, s) // s takes the REFER's responses
	<-s.Done()
	fmt.Println("call still up:", c.State(), "usages:", d.Usages())
	// Output:
	// active: "SIP/2.0 100 Trying\r\n"
	// terminated: "SIP/2.0 200 OK\r\n"
	// call still up: established usages: 1
}

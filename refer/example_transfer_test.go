package refer_test

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/sipxfer/sipxfer/dialog"
	"github.com/sipxfer/sipxfer/event"
	"github.com/sipxfer/sipxfer/refer"
	"github.com/sipxfer/sipxfer/sip"
)

// phone is a user agent that answers every call, takes part in transfers,
// and hands the calls it gets to calls.
type phone struct {
	ua    *dialog.UA
	ev    *event.Manager
	agent *refer.Agent
	uri   string
	calls chan *dialog.Call
}

func newPhone(name string) *phone {
	p := &phone{calls: make(chan *dialog.Call, 4)}
	sdp := []byte("v=0\r\n")
	p.ua = dialog.NewUA(dialog.Config{User: name, OnInvite: func(c *dialog.Call, req *sip.Message) {
		p.calls <- c
		// An INVITE with Replaces takes over the call it names (RFC 3891).
		if !p.agent.AcceptReplaces(c, req, "application/sdp", sdp) {
			c.Answer("application/sdp", sdp)
		}
	}})
	p.ev = event.New(p.ua, event.Config{})
	p.agent, _ = refer.New(p.ua, p.ev, refer.Config{CallOptions: func(*refer.Incoming) *dialog.CallOptions {
		return &dialog.CallOptions{InitialOptions: dialog.InitialOptions{RequestOptions: dialog.RequestOptions{ContentType: "application/sdp", Body: sdp}}}
	}})
	a, _ := p.ua.ListenUDP(netip.MustParseAddrPort("127.0.0.1:0"))
	p.uri = "sip:" + name + "@" + a.AddrPort.String()
	return p
}

func (p *phone) close() { p.ev.Close(); p.ua.Close() }

// Alice calls Bob, then transfers him to Carol without talking to her
// first (a blind transfer, RFC 5589 §6): Bob calls Carol and tells Alice
// how it goes in NOTIFYs, then Alice hangs up.
func Example_blindTransfer() {
	alice, bob, carol := newPhone("alice"), newPhone("bob"), newPhone("carol")
	defer alice.close()
	defer bob.close()
	defer carol.close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	call, err := alice.ua.Invite(ctx, bob.uri, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	transfer, err := alice.agent.Refer(call.Dialog(), &refer.ReferOptions{
		ReferTo:    "<" + carol.uri + ">",
		ReferredBy: alice.agent.Self(call.Dialog()),
		OnProgress: func(_ *refer.Transfer, p refer.Progress) {
			if p.Kind == refer.Notified {
				fmt.Println("NOTIFY:", p.Code, p.Reason)
			}
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	result, err := transfer.Wait(ctx)
	fmt.Println("transfer:", result.Code, err)
	call.Bye(ctx)
	<-carol.calls
	// Output:
	// NOTIFY: 100 Trying
	// NOTIFY: 200 OK
	// transfer: 200 <nil>
}

// Alice calls Bob and puts him on hold, calls Carol to announce him, then
// transfers Bob to Carol (an attended transfer, RFC 5589 §7.3): Bob's
// INVITE carries Replaces, so it takes over Alice's call with Carol.
func Example_attendedTransfer() {
	alice, bob, carol := newPhone("alice"), newPhone("bob"), newPhone("carol")
	defer alice.close()
	defer bob.close()
	defer carol.close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	held, err := alice.ua.Invite(ctx, bob.uri, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	held.ReInvite(ctx, "application/sdp", []byte("v=0\r\na=sendonly\r\n"))
	consult, err := alice.ua.Invite(ctx, carol.uri, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	<-carol.calls

	referTo, _ := refer.AttendedReferTo(consult.Dialog())
	transfer, _ := alice.agent.Refer(held.Dialog(), &refer.ReferOptions{ReferTo: referTo})
	result, err := transfer.Wait(ctx)
	fmt.Println("transfer:", result.Code, err)
	<-consult.Done() // Carol ended the call that Bob's replaced
	fmt.Println("consultation:", consult.Err())
	held.Bye(ctx)
	fromBob := <-carol.calls
	<-fromBob.Established()
	fmt.Println("Carol talks to Bob:", fromBob.State())
	// Output:
	// transfer: 200 <nil>
	// consultation: dialog: remote hung up
	// Carol talks to Bob: established
}

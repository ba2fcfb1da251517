package register_test

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/sipxfer/sipxfer/dialog"
	"github.com/sipxfer/sipxfer/digest"
	"github.com/sipxfer/sipxfer/register"
	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transport"
)

// A UA registers with a registrar that challenges it (RFC 3261 §22): the
// UA's Credentials answer, the registration goes on by itself, and Close
// removes the binding.
func Example() {
	clock := transport.NewFakeClock(time.Date(2026, 12, 6, 2, 0, 0, 0, time.UTC))
	net := transport.NewNetwork(clock, 1)
	addr := func(port uint16) transport.Addr {
		return transport.Addr{Proto: transport.UDP, AddrPort: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port)}
	}

	// The registrar: any UA challenging REGISTER, granting 60 s.
	registrar := dialog.NewUA(dialog.Config{Clock: clock, Authenticate: &dialog.Authenticator{
		Verifier: &digest.Verifier{Now: clock.Now}, Realm: "example.com",
		Lookup: func(*digest.Credentials) (digest.Account, bool) { return digest.Account{Password: "zanzibar"}, true },
	}})
	registrar.Handle("REGISTER", dialog.HandlerFunc(func(r *dialog.Request) {
		contact := string(r.Msg.GetName("Contact")) + ";expires=60"
		r.Respond(200, "", &dialog.ResponseOptions{Headers: []dialog.Header{{Name: "Contact", Value: contact}}})
	}))
	registrar.ListenMem(net, addr(5060))
	defer registrar.Close()

	// Bob's phone.
	ua := dialog.NewUA(dialog.Config{Clock: clock, User: "bob",
		Credentials: func(ch *digest.Challenge) (digest.Account, bool) {
			return digest.Account{Username: "bob", Password: "zanzibar"}, ch.Realm == "example.com"
		}})
	ua.ListenMem(net, addr(5070))
	defer ua.Close()

	reg, err := register.Register(ua, register.Config{
		Registrar: "sip:127.0.0.1:5060", AOR: "sip:bob@example.com",
		OnEvent: func(r *register.Registration, e register.Event) {
			fmt.Println(r.AOR(), e.State, e.Expires)
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	clock.Advance(54 * time.Second) // the refresh
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	fmt.Println("close:", reg.Close(ctx))
	// Output:
	// sip:bob@example.com registered 1m0s
	// sip:bob@example.com registered 1m0s
	// sip:bob@example.com unregistered 0s
	// close: <nil>
}

// A registered phone receives a call: the registrar keeps the Contact Bob
// registered for his address-of-record, and a call to that
// address-of-record is sent to it (what a registrar's proxy does, RFC
// 3261 §10, §16.5).
func Example_receivingACall() {
	clock := transport.NewFakeClock(time.Date(2026, 12, 6, 2, 0, 0, 0, time.UTC))
	net := transport.NewNetwork(clock, 1)
	addr := func(port uint16) transport.Addr {
		return transport.Addr{Proto: transport.UDP, AddrPort: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port)}
	}

	// The registrar: its location service is one map.
	bindings := map[string]string{}
	registrar := dialog.NewUA(dialog.Config{Clock: clock})
	registrar.Handle("REGISTER", dialog.HandlerFunc(func(r *dialog.Request) {
		to, _ := r.Msg.To()
		var contact sip.NameAddr
		contact.Parse(r.Msg.Get(sip.HeaderContact))
		bindings[string(to.URI.Raw)] = string(contact.URI.Raw)
		v := string(r.Msg.GetName("Contact")) + ";expires=3600"
		r.Respond(200, "", &dialog.ResponseOptions{Headers: []dialog.Header{{Name: "Contact", Value: v}}})
	}))
	registrar.ListenMem(net, addr(5060))
	defer registrar.Close()

	// Bob's phone registers, and answers the calls it gets.
	bob := dialog.NewUA(dialog.Config{Clock: clock, User: "bob", OnInvite: func(c *dialog.Call, req *sip.Message) {
		from, _ := req.From()
		fmt.Println("Bob's phone rings: a call from", string(from.URI.Raw))
		c.Answer("", nil)
	}})
	bob.ListenMem(net, addr(5070))
	defer bob.Close()
	reg, err := register.Register(bob, register.Config{Registrar: "sip:127.0.0.1:5060", AOR: "sip:bob@example.com"})
	if err != nil {
		fmt.Println(err)
		return
	}

	// Alice calls sip:bob@example.com; the location service gives where.
	alice := dialog.NewUA(dialog.Config{Clock: clock, User: "alice"})
	alice.ListenMem(net, addr(5080))
	defer alice.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	call, err := alice.Invite(ctx, bindings["sip:bob@example.com"], nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("call:", call.State())
	call.Bye(ctx)
	reg.Close(ctx)
	// Output:
	// Bob's phone rings: a call from sip:alice@127.0.0.1:5080
	// call: established
}

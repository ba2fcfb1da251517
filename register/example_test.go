package register_test

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/sipxfer/sipxfer/dialog"
	"github.com/sipxfer/sipxfer/digest"
	"github.com/sipxfer/sipxfer/register"
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

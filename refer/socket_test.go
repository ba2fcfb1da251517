package refer_test

import (
	"context"
	"errors"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/sipxfer/sipxfer/dialog"
	"github.com/sipxfer/sipxfer/event"
	"github.com/sipxfer/sipxfer/refer"
	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transport"
)

// newPhoneOn is newPhone on a given transport.
func newPhoneOn(t *testing.T, name string, proto transport.Protocol) *phone {
	p := &phone{calls: make(chan *dialog.Call, 4)}
	sdp := []byte("v=0\r\n")
	p.ua = dialog.NewUA(dialog.Config{User: name, OnInvite: func(c *dialog.Call, req *sip.Message) {
		p.calls <- c
		if !p.agent.AcceptReplaces(c, req, "application/sdp", sdp) {
			c.Ring()
			c.Answer("application/sdp", sdp)
		}
	}})
	p.ev = event.New(p.ua, event.Config{})
	var err error
	if p.agent, err = refer.New(p.ua, p.ev, refer.Config{}); err != nil {
		t.Fatal(err)
	}
	lo := netip.MustParseAddrPort("127.0.0.1:0")
	var a transport.Addr
	if proto == transport.TCP {
		a, err = p.ua.ListenTCP(lo)
	} else {
		a, err = p.ua.ListenUDP(lo)
	}
	if err != nil {
		t.Fatal(err)
	}
	p.uri = "sip:" + name + "@" + a.AddrPort.String()
	if proto == transport.TCP {
		p.uri += ";transport=tcp"
	}
	return p
}

// Blind and attended transfers among three UAs over real UDP and TCP
// sockets on 127.0.0.1, with no goroutine left behind.
func TestTransfersOverSockets(t *testing.T) {
	base := runtime.NumGoroutine()
	for _, proto := range []transport.Protocol{transport.UDP, transport.TCP} {
		for _, attended := range []bool{false, true} {
			name := proto.String() + "/blind"
			if attended {
				name = proto.String() + "/attended"
			}
			t.Run(name, func(t *testing.T) {
				alice, bob, carol := newPhoneOn(t, "alice", proto), newPhoneOn(t, "bob", proto), newPhoneOn(t, "carol", proto)
				defer alice.close()
				defer bob.close()
				defer carol.close()
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				ab, err := alice.ua.Invite(ctx, bob.uri, nil)
				if err != nil {
					t.Fatal(err)
				}
				referTo := "<" + carol.uri + ">"
				var consult *dialog.Call
				if attended {
					if consult, err = alice.ua.Invite(ctx, carol.uri, nil); err != nil {
						t.Fatal(err)
					}
					<-carol.calls
					if referTo, err = refer.AttendedReferTo(consult.Dialog()); err != nil {
						t.Fatal(err)
					}
				}
				tr, err := alice.agent.Refer(ab.Dialog(), &refer.ReferOptions{ReferTo: referTo, ReferredBy: alice.agent.Self(ab.Dialog())})
				if err != nil {
					t.Fatal(err)
				}
				res, err := tr.Wait(ctx)
				if err != nil || res.Code != 200 {
					t.Fatalf("transfer: %+v %v", res, err)
				}
				if err := ab.Bye(ctx); err != nil {
					t.Fatalf("BYE: %v", err)
				}
				fromBob := <-carol.calls
				select {
				case <-fromBob.Established():
				case <-ctx.Done():
					t.Fatal("Bob's call to Carol never established")
				}
				if attended {
					select {
					case <-consult.Done():
					case <-ctx.Done():
						t.Fatal("the consultation call was not replaced")
					}
					if !errors.Is(consult.Err(), dialog.ErrRemoteBye) {
						t.Fatalf("consultation ended with %v", consult.Err())
					}
				}
			})
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base && time.Now().Before(deadline) {
		runtime.Gosched()
	}
	if n := runtime.NumGoroutine(); n > base {
		t.Errorf("%d goroutines left", n-base)
	}
}

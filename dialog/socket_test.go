package dialog

import (
	"context"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transport"
)

// A call between two UAs over real sockets on 127.0.0.1.
func TestCallOverSockets(t *testing.T) {
	base := runtime.NumGoroutine()
	defer func() {
		// Every reader, timer and connection goroutine ends with its UA.
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > base && time.Now().Before(deadline) {
			runtime.Gosched()
		}
		if n := runtime.NumGoroutine(); n > base {
			t.Errorf("%d goroutines left running", n-base)
		}
	}()
	for _, proto := range []transport.Protocol{transport.UDP, transport.TCP} {
		t.Run(proto.String(), func(t *testing.T) {
			lo := netip.MustParseAddrPort("127.0.0.1:0")
			listen := func(ua *UA) transport.Addr {
				var a transport.Addr
				var err error
				if proto == transport.UDP {
					a, err = ua.ListenUDP(lo)
				} else {
					a, err = ua.ListenTCP(lo)
				}
				if err != nil {
					t.Fatal(err)
				}
				return a
			}
			calls := make(chan *Call, 1)
			alice := NewUA(Config{User: "alice", Logger: quiet})
			bob := NewUA(Config{User: "bob", Logger: quiet, OnInvite: func(c *Call, req *sip.Message) {
				calls <- c
				autoAnswer(c, req)
			}})
			defer alice.Close()
			defer bob.Close()
			listen(alice)
			b := listen(bob)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			target := "sip:bob@" + b.AddrPort.String()
			if proto == transport.TCP {
				target += ";transport=tcp"
			}
			c, err := alice.Invite(ctx, target, &CallOptions{InitialOptions: InitialOptions{RequestOptions: RequestOptions{ContentType: "application/sdp", Body: []byte(sdp)}}})
			if err != nil {
				t.Fatal(err)
			}
			bc := <-calls
			if err := bc.Wait(ctx); err != nil {
				t.Fatalf("callee: %v", err)
			}
			if err := c.Bye(ctx); err != nil {
				t.Fatal(err)
			}
			select {
			case <-bc.Done():
			case <-ctx.Done():
				t.Fatal("callee never saw the BYE")
			}
			if bc.Err() != ErrRemoteBye || alice.Dialogs()+bob.Dialogs() != 0 {
				t.Fatalf("callee ended with %v; %d dialogs left", bc.Err(), alice.Dialogs()+bob.Dialogs())
			}
		})
	}
}

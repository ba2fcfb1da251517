package refer_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/sipxfer/sipxfer/dialog"
	"github.com/sipxfer/sipxfer/event"
	"github.com/sipxfer/sipxfer/refer"
	"github.com/sipxfer/sipxfer/sip"
)

// Bob takes transfers only to people he knows: his Policy refuses what
// no application should act on unasked (here a tel URI, and any Refer-To
// embedding a header not on the allow-list: 403 before OnRefer sees it),
// and his OnRefer decides the rest, accepting a transfer to Carol (with
// 200, RFC 7647 §5) and declining one to anybody else.
func Example_acceptingRefer() {
	alice, carol := newPhone("alice"), newPhone("carol")
	defer alice.close()
	defer carol.close()

	bob := &phone{calls: make(chan *dialog.Call, 4)}
	sdp := []byte("v=0\r\n")
	bob.ua = dialog.NewUA(dialog.Config{User: "bob", OnInvite: func(c *dialog.Call, _ *sip.Message) {
		c.Answer("application/sdp", sdp)
	}})
	bob.ev = event.New(bob.ua, event.Config{})
	bob.agent, _ = refer.New(bob.ua, bob.ev, refer.Config{
		Policy: &refer.Policy{EmbeddedHeaders: refer.RejectDisallowed},
		OnRefer: func(in *refer.Incoming) {
			if who := string(in.Target.URI().User); who != "carol" {
				fmt.Println("Bob declines a transfer to", who)
				in.Reject(603, "")
				return
			}
			in.Accept() // then the Agent calls Carol and NOTIFYs Alice
		},
		CallOptions: func(*refer.Incoming) *dialog.CallOptions {
			return &dialog.CallOptions{InitialOptions: dialog.InitialOptions{RequestOptions: dialog.RequestOptions{ContentType: "application/sdp", Body: sdp}}}
		},
	})
	a, _ := bob.ua.ListenUDP(netip.MustParseAddrPort("127.0.0.1:0"))
	bob.uri = "sip:bob@" + a.AddrPort.String()
	defer bob.close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	call, err := alice.ua.Invite(ctx, bob.uri, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, referTo := range []string{
		"<tel:+15550100>",                    // a scheme the Policy does not allow
		"<sip:carol@192.0.2.1?X-Account=42>", // a header not on the allow-list
		"<sip:mallory@192.0.2.66>",           // OnRefer says no
		"<" + carol.uri + ">",                // OnRefer accepts
	} {
		transfer, err := alice.agent.Refer(call.Dialog(), &refer.ReferOptions{ReferTo: referTo})
		if err != nil {
			fmt.Println(err)
			return
		}
		result, _ := transfer.Wait(ctx)
		fmt.Printf("REFER answered %d; target answered %d; rejected: %v\n",
			result.ReferCode, result.Code, errors.Is(result.Err, refer.ErrRejected))
	}
	<-carol.calls
	call.Bye(ctx)
	// Output:
	// REFER answered 403; target answered 0; rejected: true
	// REFER answered 403; target answered 0; rejected: true
	// Bob declines a transfer to mallory
	// REFER answered 603; target answered 0; rejected: true
	// REFER answered 200; target answered 200; rejected: false
}

package refer_test

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/sipxfer/sipxfer/dialog"
	"github.com/sipxfer/sipxfer/digest"
	"github.com/sipxfer/sipxfer/event"
	"github.com/sipxfer/sipxfer/refer"
	"github.com/sipxfer/sipxfer/sip"
)

// Bob acts on a REFER only from someone who proves who they are (RFC 3515
// §5): his UA challenges REFERs with digest (dialog.Config.Authenticate),
// and Alice's UA answers the challenge from her Credentials without her
// code seeing it. The transfer then goes as any blind transfer.
func Example_authenticatedBlindTransfer() {
	sdp := []byte("v=0\r\n")
	answer := func(c *dialog.Call, _ *sip.Message) { c.Answer("application/sdp", sdp) }
	start := func(cfg dialog.Config) (*dialog.UA, string) {
		ua := dialog.NewUA(cfg)
		a, _ := ua.ListenUDP(netip.MustParseAddrPort("127.0.0.1:0"))
		return ua, "sip:" + cfg.User + "@" + a.AddrPort.String()
	}

	alice, _ := start(dialog.Config{User: "alice",
		Credentials: func(ch *digest.Challenge) (digest.Account, bool) {
			return digest.Account{Username: "alice", Password: "wonderland"}, ch.Realm == "bob.example.com"
		}})
	bob, bobURI := start(dialog.Config{User: "bob", OnInvite: answer,
		Authenticate: &dialog.Authenticator{
			Verifier: &digest.Verifier{}, Realm: "bob.example.com", Methods: []string{"REFER"},
			Lookup: func(c *digest.Credentials) (digest.Account, bool) {
				return digest.Account{Username: "alice", Password: "wonderland"}, c.Username == "alice"
			},
		}})
	carol, carolURI := start(dialog.Config{User: "carol", OnInvite: answer})
	defer carol.Close()
	defer bob.Close()
	defer alice.Close()
	aliceEv, bobEv := event.New(alice, event.Config{}), event.New(bob, event.Config{})
	defer aliceEv.Close()
	defer bobEv.Close()
	aliceAgent, _ := refer.New(alice, aliceEv, refer.Config{})
	refer.New(bob, bobEv, refer.Config{
		OnRefer: func(in *refer.Incoming) {
			fmt.Println("Bob takes a REFER from", in.AuthUser())
			in.Accept()
		},
		CallOptions: func(*refer.Incoming) *dialog.CallOptions {
			return &dialog.CallOptions{InitialOptions: dialog.InitialOptions{RequestOptions: dialog.RequestOptions{ContentType: "application/sdp", Body: sdp}}}
		},
	})

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	call, err := alice.Invite(ctx, bobURI, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	transfer, _ := aliceAgent.Refer(call.Dialog(), &refer.ReferOptions{ReferTo: "<" + carolURI + ">"})
	result, err := transfer.Wait(ctx)
	fmt.Println("transfer:", result.Code, err)
	call.Bye(ctx)
	// Output:
	// Bob takes a REFER from alice
	// transfer: 200 <nil>
}

package dialog_test

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/sipxfer/sipxfer/dialog"
	"github.com/sipxfer/sipxfer/sip"
)

// Two user agents on 127.0.0.1: Alice calls Bob, who answers, and hangs up.
func Example() {
	bobHeard := make(chan error, 1)
	bob := dialog.NewUA(dialog.Config{User: "bob", OnInvite: func(c *dialog.Call, req *sip.Message) {
		c.Ring()
		c.Answer("application/sdp", []byte("v=0\r\n"))
		go func() { <-c.Done(); bobHeard <- c.Err() }()
	}})
	defer bob.Close()
	addr, _ := bob.ListenUDP(netip.MustParseAddrPort("127.0.0.1:0"))

	alice := dialog.NewUA(dialog.Config{User: "alice"})
	defer alice.Close()
	alice.ListenUDP(netip.MustParseAddrPort("127.0.0.1:0"))

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	call, err := alice.Invite(ctx, "sip:bob@"+addr.AddrPort.String(), nil)
	if err != nil {
		fmt.Println("call failed:", err)
		return
	}
	fmt.Println("alice:", call.State(), "answer:", string(call.RemoteBody()) == "v=0\r\n")
	call.Bye(ctx)
	fmt.Println("bob:", <-bobHeard)
	// Output:
	// alice: established answer: true
	// bob: dialog: remote hung up
}

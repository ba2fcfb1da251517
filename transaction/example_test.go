package transaction_test

import (
	"bytes"
	"fmt"
	"net/netip"
	"time"

	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transaction"
	"github.com/sipxfer/sipxfer/transport"
)

// loopback is a toy Transport handing every message to another Manager at
// once, as an in-memory network does.
type loopback struct {
	peer *transaction.Manager
	from transport.Addr
}

func (l *loopback) deliver(wire []byte) {
	var m sip.Message
	if err := sip.Parse(&m, append([]byte(nil), wire...)); err != nil {
		panic(err)
	}
	l.peer.HandleInbound(&transport.Inbound{Msg: &m, Remote: l.from, Reply: transport.ReplyTo{Remote: l.from}})
}

func (l *loopback) SendRequest(dst transport.Addr, branch, req []byte) ([]byte, transport.Addr, error) {
	i := bytes.IndexByte(req, '\n') + 1
	wire := fmt.Appendf(nil, "%sVia: SIP/2.0/UDP %s;branch=%s\r\n%s", req[:i], l.from.AddrPort, branch, req[i:])
	l.deliver(wire)
	return wire, dst, nil
}

func (l *loopback) Send(_ transport.Addr, wire []byte) error { l.deliver(wire); return nil }

func (l *loopback) SendResponse(_ transport.ReplyTo, wire []byte) error { l.deliver(wire); return nil }

// uas answers every request 200, with a To tag.
type uas struct{}

func (uas) HandleRequest(tx *transaction.ServerTx, req *sip.Message) {
	resp := sip.AppendResponse(nil, req, 200, "", "b91f")
	tx.Respond(sip.AppendNoBody(resp))
}
func (uas) HandleACK(*transport.Inbound)                          {}
func (uas) HandleCancel(*transaction.ServerTx, *sip.Message)      {}
func (uas) HandleStrayResponse(*transport.Inbound)                {}
func (uas) HandleServerError(tx *transaction.ServerTx, err error) {}

// A client Manager sends an OPTIONS to a server Manager, whose TU answers
// 200; the client transaction then waits Timer K (T4) for retransmitted
// responses, the server one Timer J (64*T1), on a fake clock.
func Example() {
	clock := transport.NewFakeClock(time.Unix(0, 0))
	alice := transport.Addr{Proto: transport.UDP, AddrPort: netip.MustParseAddrPort("192.0.2.1:5060")}
	bob := transport.Addr{Proto: transport.UDP, AddrPort: netip.MustParseAddrPort("192.0.2.4:5060")}
	toBob, toAlice := &loopback{from: alice}, &loopback{from: bob}
	client := transaction.NewManager(transaction.Config{Clock: clock}, toBob, nil)
	server := transaction.NewManager(transaction.Config{Clock: clock}, toAlice, uas{})
	toBob.peer, toAlice.peer = server, client

	b := sip.AppendRequestLine(nil, "OPTIONS", "sip:bob@192.0.2.4")
	b = sip.AppendHeader(b, sip.HeaderMaxForwards, "70")
	b = sip.AppendHeader(b, sip.HeaderTo, "<sip:bob@192.0.2.4>")
	b = sip.AppendHeader(b, sip.HeaderFrom, "<sip:alice@192.0.2.1>;tag=88sja8x")
	b = sip.AppendHeader(b, sip.HeaderCallID, "987asjd97y7atg@192.0.2.1")
	b = sip.AppendCSeq(b, 1, "OPTIONS")
	b = sip.AppendNoBody(b)

	tx, err := client.Request(bob, b, transaction.ClientHandlerFunc(func(tx *transaction.ClientTx, r transaction.Response) {
		fmt.Println(tx.Method(), "got", r.Status, string(r.Msg.Reason()))
	}))
	if err != nil {
		panic(err)
	}
	fmt.Println("client:", tx.State())
	clock.Advance(transaction.DefaultT4)
	fmt.Println("after T4, client:", tx.State())
	c, s := server.Transactions()
	fmt.Println("server transactions:", c+s)
	clock.Advance(64 * transaction.DefaultT1)
	c, s = server.Transactions()
	fmt.Println("after 64*T1, server transactions:", c+s)
	// Output:
	// OPTIONS got 200 OK
	// client: Completed
	// after T4, client: Terminated
	// server transactions: 1
	// after 64*T1, server transactions: 0
}

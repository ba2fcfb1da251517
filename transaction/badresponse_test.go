package transaction_test

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/sipxfer/sipxfer/internal/siptest"
	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transaction"
	"github.com/sipxfer/sipxfer/transport"
)

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// memNode is a Layer and a Manager on an in-memory network, with a scripted
// peer to talk to.
type memNode struct {
	clock *transport.FakeClock
	mgr   *transaction.Manager
	layer *transport.Layer
	addr  transport.Addr
	peer  *siptest.Peer
}

func newMemNode(t *testing.T) *memNode {
	t.Helper()
	clock := transport.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	network := transport.NewNetwork(clock, 1)
	n := &memNode{clock: clock}
	n.layer = transport.New(transport.Config{Clock: clock, Logger: quietLog},
		transport.HandlerFunc(func(in *transport.Inbound) { n.mgr.HandleInbound(in) }))
	n.mgr = transaction.NewManager(transaction.Config{Clock: clock, Logger: quietLog}, n.layer, nil)
	a := transport.Addr{Proto: transport.UDP, AddrPort: netip.MustParseAddrPort("192.0.2.1:5060")}
	var err error
	if n.addr, err = n.layer.ListenMem(network, a); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		n.mgr.Close()
		n.layer.Close()
	})
	n.peer = siptest.NewPeer(t, clock, network, transport.Addr{Proto: transport.UDP, AddrPort: netip.MustParseAddrPort("192.0.2.2:5060")})
	return n
}

func memRequest(method string, to transport.Addr) []byte {
	b := sip.AppendRequestLine(nil, method, "sip:bob@"+to.AddrPort.String())
	b = sip.AppendHeader(b, sip.HeaderMaxForwards, "70")
	b = sip.AppendHeader(b, sip.HeaderTo, "<sip:bob@"+to.AddrPort.String()+">")
	b = sip.AppendHeader(b, sip.HeaderFrom, "<sip:alice@192.0.2.1>;tag=a1")
	b = sip.AppendHeader(b, sip.HeaderCallID, "bad-resp@192.0.2.1")
	b = sip.AppendCSeq(b, 1, method)
	if method == "INVITE" {
		b = sip.AppendHeader(b, sip.HeaderContact, "<sip:alice@192.0.2.1>")
	}
	return sip.AppendNoBody(b)
}

// respondRaw answers g with the response text head (start line and extra
// header lines, "\n" line ends) followed by the copied fields of g.
func respondRaw(t *testing.T, p *siptest.Peer, g siptest.Got, status string, extra string) {
	t.Helper()
	code := 0
	fmt.Sscanf(status, "%d", &code)
	b := sip.AppendResponse(nil, g.Msg, code, "", "b1")
	b = append(b, strings.ReplaceAll(extra, "\n", "\r\n")...)
	b = sip.AppendNoBody(b)
	if err := p.Layer.SendResponse(g.Reply, b); err != nil {
		t.Fatal(err)
	}
}

// responses records what a client transaction passes up.
type responses []transaction.Response

func (r *responses) handler() transaction.ClientHandler {
	return transaction.ClientHandlerFunc(func(_ *transaction.ClientTx, resp transaction.Response) {
		*r = append(*r, resp)
	})
}

// A 200 whose Contact host has an underscore is used: before, it failed
// validation and was dropped, and the INVITE, past its 180 (no Timer B in
// Proceeding, RFC 3261 §17.1.1.2), rang forever.
func TestFinalResponseWithUnderscoreHostDelivered(t *testing.T) {
	n := newMemNode(t)
	var got responses
	if _, err := n.mgr.Request(n.peer.Addr, memRequest("INVITE", n.peer.Addr), got.handler()); err != nil {
		t.Fatal(err)
	}
	inv := n.peer.Expect("INVITE")
	respondRaw(t, n.peer, inv, "180", "Contact: <sip:bob@my_host.local>\n")
	respondRaw(t, n.peer, inv, "200", "Contact: <sip:bob@my_host.local>\n")
	if len(got) != 2 || got[1].Status != 200 || got[1].Err != nil {
		t.Fatalf("TU got %+v, want 180 and 200", got)
	}
}

// RFC 3261 §8.1.3.1 spirit, never a hang: a final response that is
// addressed to us (top Via, CSeq) but cannot be used ends its client
// transaction with an error the TU sees at once, instead of being dropped.
// A provisional one that cannot be used is dropped: the final one follows.
func TestUnusableFinalResponseFailsTransaction(t *testing.T) {
	for _, tc := range []struct {
		name, method, status, extra string
		cause                       error
	}{
		{"INVITE 200 with a broken Contact", "INVITE", "200", "Contact: <sip:bob@bad host>\n", sip.ErrBadHeader},
		{"INVITE 486 with two Call-IDs", "INVITE", "486", "Call-ID: other\n", sip.ErrBadHeader},
		{"OPTIONS 200 with a non-numeric Content-Length", "OPTIONS", "200", "Content-Length: five\n", sip.ErrContentLength},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newMemNode(t)
			var got responses
			tx, err := n.mgr.Request(n.peer.Addr, memRequest(tc.method, n.peer.Addr), got.handler())
			if err != nil {
				t.Fatal(err)
			}
			req := n.peer.Expect(tc.method)
			respondRaw(t, n.peer, req, "180", "Contact: <sip:bob@bad host>\n") // dropped
			if len(got) != 0 {
				t.Fatalf("TU got %+v for an unusable provisional response", got)
			}
			respondRaw(t, n.peer, req, tc.status, tc.extra)
			if len(got) != 1 || got[0].Err == nil {
				t.Fatalf("TU got %+v, want one error", got)
			}
			if !errors.Is(got[0].Err, transaction.ErrBadResponse) || !errors.Is(got[0].Err, tc.cause) || !got[0].Final() {
				t.Errorf("error %v (status %d), want ErrBadResponse wrapping %v", got[0].Err, got[0].Status, tc.cause)
			}
			if tx.State() != transaction.StateTerminated {
				t.Errorf("transaction %v, want Terminated", tx.State())
			}
			n.clock.Advance(time.Minute)
			if len(got) != 1 {
				t.Errorf("TU got %+v after the error", got)
			}
		})
	}
}

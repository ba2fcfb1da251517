package transaction_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transaction"
	"github.com/sipxfer/sipxfer/transport"
)

// node is a transport Layer and a transaction Manager wired together, as a
// user agent builds them.
type node struct {
	layer *transport.Layer
	mgr   *transaction.Manager
	addr  transport.Addr
}

// newNode starts a Layer listening on ip (port 0) for proto, and a Manager
// with tu above it; both close when the test ends.
func newNode(tb testing.TB, proto transport.Protocol, ip string, tlsConf *tls.Config, tu transaction.TU) *node {
	tb.Helper()
	n := &node{}
	// The Manager needs the Layer and the Layer its Handler: a closure
	// breaks the cycle.
	n.layer = transport.New(transport.Config{TLS: tlsConf},
		transport.HandlerFunc(func(in *transport.Inbound) { n.mgr.HandleInbound(in) }))
	n.mgr = transaction.NewManager(transaction.Config{}, n.layer, tu)
	ap := netip.AddrPortFrom(netip.MustParseAddr(ip), 0)
	var err error
	switch proto {
	case transport.UDP:
		n.addr, err = n.layer.ListenUDP(ap)
	case transport.TCP:
		n.addr, err = n.layer.ListenTCP(ap)
	case transport.TLS:
		n.addr, err = n.layer.ListenTLS(ap)
	}
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		n.mgr.Close()
		n.layer.Close()
	})
	return n
}

// okTU answers every request 200 with a To tag and counts the requests.
type okTU struct{ requests atomic.Int64 }

func (u *okTU) HandleRequest(tx *transaction.ServerTx, req *sip.Message) {
	u.requests.Add(1)
	b := sip.AppendResponse(make([]byte, 0, 512), req, 200, "", "srv1")
	_ = tx.Respond(sip.AppendNoBody(b))
}
func (*okTU) HandleACK(*transport.Inbound)                     {}
func (*okTU) HandleCancel(*transaction.ServerTx, *sip.Message) {}
func (*okTU) HandleStrayResponse(*transport.Inbound)           {}
func (*okTU) HandleServerError(*transaction.ServerTx, error)   {}

func options(to transport.Addr, seq int) []byte {
	b := sip.AppendRequestLine(make([]byte, 0, 512), "OPTIONS", "sip:bob@"+to.AddrPort.String())
	b = sip.AppendHeader(b, sip.HeaderMaxForwards, "70")
	b = sip.AppendHeader(b, sip.HeaderTo, "<sip:bob@"+to.AddrPort.String()+">")
	b = sip.AppendHeader(b, sip.HeaderFrom, "<sip:alice@example.invalid>;tag=a1")
	b = sip.AppendHeader(b, sip.HeaderCallID, fmt.Sprintf("sock-%d@example.invalid", seq))
	b = sip.AppendCSeq(b, uint32(seq), "OPTIONS")
	return sip.AppendNoBody(b)
}

// TestOverSockets runs a non-INVITE transaction between two Managers over
// real UDP, TCP and TLS sockets on 127.0.0.1 and ::1.
func TestOverSockets(t *testing.T) {
	tlsConf, err := transport.SelfSignedTLS()
	if err != nil {
		t.Fatal(err)
	}
	for _, ip := range []string{"127.0.0.1", "::1"} {
		ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
		if err != nil {
			t.Fatalf("%s unusable on this machine: %v", ip, err)
		}
		ln.Close()
		for _, proto := range []transport.Protocol{transport.UDP, transport.TCP, transport.TLS} {
			t.Run(proto.String()+"/"+ip, func(t *testing.T) {
				var tu okTU
				server := newNode(t, proto, ip, tlsConf, &tu)
				client := newNode(t, proto, ip, tlsConf, nil)
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				resp, err := client.mgr.Do(ctx, server.addr, options(server.addr, 1))
				if err != nil {
					t.Fatal(err)
				}
				to, err := resp.To()
				if err != nil || resp.StatusCode() != 200 || string(to.Tag()) != "srv1" {
					t.Fatalf("response %d To %q: %v", resp.StatusCode(), resp.Get(sip.HeaderTo), err)
				}
				via, _ := resp.TopVia()
				if string(via.Transport) != proto.String() || !via.HasRPort || via.RPort == 0 {
					t.Errorf("top Via of the response %q: want %s with rport filled", resp.Get(sip.HeaderVia), proto)
				}
				if n := tu.requests.Load(); n != 1 {
					t.Errorf("server TU saw %d requests", n)
				}
			})
		}
	}
}

// BenchmarkNonInviteUDPLoopback measures complete OPTIONS transactions
// (client and server Manager in one process, over real UDP on 127.0.0.1):
// transactions per second and allocations per transaction, both sides
// together.
func BenchmarkNonInviteUDPLoopback(b *testing.B) {
	var tu okTU
	server := newNode(b, transport.UDP, "127.0.0.1", nil, &tu)
	client := newNode(b, transport.UDP, "127.0.0.1", nil, nil)
	const inFlight = 64
	reqs := make([][]byte, inFlight)
	var wg sync.WaitGroup
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for w := 0; w < inFlight; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				reqs[w] = options(server.addr, int(i))
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				resp, err := client.mgr.Do(ctx, server.addr, reqs[w])
				cancel()
				if err != nil || resp.StatusCode() != 200 {
					b.Errorf("transaction %d: %v", i, err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "tx/s")
}

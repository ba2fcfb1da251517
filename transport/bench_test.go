package transport

import (
	"net/netip"
	"testing"
	"time"

	"github.com/sipxfer/sipxfer/sip"
)

// BenchmarkUDPLoopback: a client Layer sends OPTIONS with SendRequest to a
// server Layer over UDP on 127.0.0.1; the server's Handler answers 200 with
// SendResponse; the client's Handler counts the answers. Up to 16 requests
// are in flight. msgs/s counts requests and responses.
func BenchmarkUDPLoopback(b *testing.B) {
	var out []byte // the server's response buffer, reused: one reader goroutine
	var server *Layer
	server = newLayer(b, Config{}, HandlerFunc(func(in *Inbound) {
		out = sip.AppendResponse(out[:0], in.Msg, 200, "", "srvtag")
		out = sip.AppendNoBody(out)
		if err := server.SendResponse(in.Reply, out); err != nil {
			b.Error(err)
		}
	}))
	dst := must[Addr](b)(server.ListenUDP(netip.MustParseAddrPort("127.0.0.1:0")))
	answers := make(chan struct{}, 64)
	client := newLayer(b, Config{}, HandlerFunc(func(in *Inbound) {
		if in.Msg.StatusCode() == 200 {
			answers <- struct{}{}
		}
	}))
	must[Addr](b)(client.ListenUDP(netip.MustParseAddrPort("127.0.0.1:0")))
	req := request("OPTIONS", "sip:bob@127.0.0.1")
	branch := make([]byte, 0, 32)
	const window = 16
	timeout := time.NewTimer(failAfter)
	defer timeout.Stop()
	wait := func() {
		timeout.Reset(failAfter)
		select {
		case <-answers:
		case <-timeout.C:
			b.Fatal("lost a message")
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if i >= window {
			wait()
		}
		branch = NewBranch(branch[:0])
		if _, _, err := client.SendRequest(dst, branch, req); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; i < min(b.N, window); i++ {
		wait()
	}
	b.ReportMetric(float64(2*b.N)/time.Since(start).Seconds(), "msgs/s")
}

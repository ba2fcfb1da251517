package refer

import (
	"flag"
	"net/netip"
	"os"
	"runtime"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/sipxfer/sipxfer/dialog"
	"github.com/sipxfer/sipxfer/event"
	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transport"
)

var heldProfile = flag.String("heldprofile", "", "BenchmarkTransferHeld writes a heap profile to this file at the point it measures")

// BenchmarkTransferHeld makes b.N blind transfers among three UAs on the
// in-memory network (Alice calls Bob, REFERs him to Carol, both calls hang
// up) without letting the fake clock run, and reports the heap the three
// UAs still hold per transfer: what a UA under load keeps for the 64*T1
// that finished transactions wait over UDP (Timers J, L and M). Then the
// clock runs two minutes and everything must be released.
func BenchmarkTransferHeld(b *testing.B) {
	clock := transport.NewFakeClock(time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC))
	network := transport.NewNetwork(clock, 1)
	sdpOpts := func() *dialog.CallOptions {
		return &dialog.CallOptions{InitialOptions: dialog.InitialOptions{RequestOptions: dialog.RequestOptions{ContentType: "application/sdp", Body: []byte(sdp)}}}
	}
	type node struct {
		ua    *dialog.UA
		ev    *event.Manager
		agent *Agent
		uri   string
	}
	bobCalls := make(chan *dialog.Call, 1)
	start := func(name string, port uint16, onCall func(*Incoming, *dialog.Call)) *node {
		n := &node{}
		n.ua = dialog.NewUA(dialog.Config{Clock: clock, User: name, Logger: quiet, MaxDialogs: 1 << 30,
			OnInvite: func(c *dialog.Call, _ *sip.Message) { c.Answer("application/sdp", []byte(sdp)) }})
		n.ev = event.New(n.ua, event.Config{MaxSubscriptions: 1 << 30})
		var err error
		n.agent, err = New(n.ua, n.ev, Config{OnCall: onCall, CallOptions: func(*Incoming) *dialog.CallOptions { return sdpOpts() }})
		if err != nil {
			b.Fatal(err)
		}
		a := transport.Addr{Proto: transport.UDP, AddrPort: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port)}
		if _, err := n.ua.ListenMem(network, a); err != nil {
			b.Fatal(err)
		}
		n.uri = "sip:" + name + "@" + a.AddrPort.String()
		return n
	}
	alice := start("alice", 5060, nil)
	bob := start("bob", 5070, func(_ *Incoming, c *dialog.Call) { bobCalls <- c })
	carol := start("carol", 5080, nil)
	for _, n := range []*node{alice, bob, carol} {
		defer n.ua.Close()
		defer n.ev.Close()
	}

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	for range b.N {
		ac, err := alice.ua.Invite(bg(), bob.uri, sdpOpts())
		if err != nil {
			b.Fatal(err)
		}
		tr, err := alice.agent.Refer(ac.Dialog(), &ReferOptions{ReferTo: "<" + carol.uri + ">"})
		if err != nil {
			b.Fatal(err)
		}
		if res, err := tr.Wait(bg()); err != nil || res.Code != 200 {
			b.Fatalf("transfer: %+v %v", res, err)
		}
		bc := <-bobCalls
		<-bc.Established()
		if err := ac.Bye(bg()); err != nil {
			b.Fatal(err)
		}
		if err := bc.Bye(bg()); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	runtime.GC()
	var held runtime.MemStats
	runtime.ReadMemStats(&held)
	b.ReportMetric((float64(held.HeapAlloc)-float64(before.HeapAlloc))/float64(b.N), "B-held/transfer")
	if *heldProfile != "" {
		f, err := os.Create(*heldProfile)
		if err != nil {
			b.Fatal(err)
		}
		if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}

	clock.Advance(2 * time.Minute) // 64*T1 = 32 s: every transaction ends
	for _, n := range []*node{alice, bob, carol} {
		if c, s := n.ua.Transactions().Transactions(); c+s != 0 {
			b.Errorf("%s: %d client and %d server transactions left", n.uri, c, s)
		}
		if d := n.ua.Dialogs(); d != 0 {
			b.Errorf("%s: %d dialogs left", n.uri, d)
		}
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	b.ReportMetric((float64(after.HeapAlloc)-float64(before.HeapAlloc))/float64(b.N), "B-after/transfer")
}

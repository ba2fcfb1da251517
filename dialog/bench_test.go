package dialog

import (
	"runtime"
	"testing"
	"time"

	"github.com/sipxfer/sipxfer/sip"
)

// BenchmarkIdleDialogMemory sets up b.N calls between two UAs on the
// in-memory network, lets every transaction end, and reports the heap held
// per dialog (each call is a dialog at both ends) and per call. Run with
// -benchtime=50000x for the 100,000-dialog figure in the README.
func BenchmarkIdleDialogMemory(b *testing.B) {
	w := &world{clock: newBenchClock()}
	w.net = newBenchNetwork(w.clock)
	alice := NewUA(Config{Clock: w.clock, User: "alice", Logger: quiet})
	bob := NewUA(Config{Clock: w.clock, User: "bob", Logger: quiet, MaxDialogs: 1 << 30,
		OnInvite: func(c *Call, _ *sip.Message) { c.Answer("application/sdp", []byte(sdp)) }})
	alice.cfg.MaxDialogs = 1 << 30
	defer alice.Close()
	defer bob.Close()
	alice.ListenMem(w.net, memAddr(5060))
	bob.ListenMem(w.net, memAddr(5070))
	opts := &CallOptions{InitialOptions: InitialOptions{RequestOptions: RequestOptions{ContentType: "application/sdp", Body: []byte(sdp)}}}

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	calls := make([]*Call, 0, b.N)
	b.ResetTimer()
	for range b.N {
		c, err := alice.Invite(bg(), "sip:bob@127.0.0.1:5070", opts)
		if err != nil {
			b.Fatal(err)
		}
		calls = append(calls, c)
	}
	b.StopTimer()
	w.clock.Advance(2 * time.Minute) // every transaction ends (64*T1 = 32 s)
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if n := alice.Dialogs() + bob.Dialogs(); n != 2*b.N {
		b.Fatalf("%d dialogs, want %d", n, 2*b.N)
	}
	if c, s := alice.Transactions().Transactions(); c+s != 0 {
		b.Fatalf("%d transactions left", c+s)
	}
	held := float64(after.HeapAlloc) - float64(before.HeapAlloc)
	b.ReportMetric(held/float64(2*b.N), "B/dialog")
	b.ReportMetric(held/float64(1<<20), "MiB-total")
	runtime.KeepAlive(calls)
}

package event

import (
	"io"
	"log/slog"
	"runtime"
	"testing"
	"time"

	"github.com/sipxfer/sipxfer/dialog"
)

// benchPair is pair for benchmarks: no log output, room for many dialogs.
func benchPair(b *testing.B) (*world, *node, *node, *notifierLog) {
	w := newWorld(b)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	alice := w.nodeWith("alice", 5060, dialog.Config{Logger: quiet}, Config{})
	bob := w.nodeWith("bob", 5070, dialog.Config{Logger: quiet}, Config{})
	log := &notifierLog{}
	alice.m.Register(Package{Name: "test", DefaultExpires: time.Hour, Accept: []string{"text/plain"}})
	bob.m.Register(testPackage(log))
	return w, alice, bob, log
}

func heap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkSubscriptionMemory establishes subs subscriptions between two
// UAs, lets every transaction end, and reports the heap they hold per
// subscription: both ends, with their dialogs (two Dialogs, a Subscription,
// a Notifier, the table entries and timers).
func BenchmarkSubscriptionMemory(b *testing.B) {
	const subs = 5000
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		w, alice, bob, log := benchPair(b)
		log.ns = make([]*Notifier, 0, subs)
		held := make([]*Subscription, 0, subs)
		base := heap()
		b.StartTimer()
		for j := 0; j < subs; j++ {
			s, err := alice.m.Subscribe(bob.uri(), &SubscribeOptions{Package: "test"})
			if err != nil {
				b.Fatal(err)
			}
			held = append(held, s)
		}
		b.StopTimer()
		w.clock.Advance(40 * time.Second) // past Timer J and K: transactions gone
		if c, s := alice.ua.Transactions().Transactions(); c+s != 0 {
			b.Fatalf("%d transactions left", c+s)
		}
		if a, n := alice.m.Subscriptions(); a != subs || bob.ua.Dialogs() != subs {
			b.Fatalf("%d subscriptions, %d dialogs", a, n)
		}
		used := heap() - base
		b.ReportMetric(float64(used)/subs, "B/subscription")
		runtime.KeepAlive(held)
		alice.m.Close()
		bob.m.Close()
		b.StartTimer()
	}
}

// BenchmarkNotify sends NOTIFYs on one subscription over the in-memory
// network: each is built, sent, parsed, matched to its dialog and
// subscription, reported and answered, and the answer releases the next.
func BenchmarkNotify(b *testing.B) {
	w, alice, bob, log := benchPair(b)
	seen := 0
	s, err := alice.m.Subscribe(bob.uri(), &SubscribeOptions{Package: "test", Expires: 10000 * time.Hour, OnNotify: func(*Subscription, *Notification) { seen++ }})
	if err != nil || s.State() != StateActive {
		b.Fatal(err, s.State())
	}
	n := log.last()
	body := []byte("some state")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := n.Notify(StateActive, "text/plain", body); err != nil {
			b.Fatal(err)
		}
		if i%1024 == 1023 {
			b.StopTimer()
			w.clock.Advance(40 * time.Second) // let finished transactions go
			b.StartTimer()
		}
	}
	b.StopTimer()
	if seen != b.N+1 {
		b.Fatalf("%d NOTIFYs seen, %d sent", seen, b.N+1)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "NOTIFY/s")
}

// BenchmarkSubscribeUnsubscribe measures a whole subscription: SUBSCRIBE,
// 200, the first NOTIFY and its 200, then SUBSCRIBE with Expires: 0, 200,
// the final NOTIFY and its 200; both dialogs made and ended.
func BenchmarkSubscribeUnsubscribe(b *testing.B) {
	w, alice, bob, _ := benchPair(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s, err := alice.m.Subscribe(bob.uri(), &SubscribeOptions{Package: "test"})
		if err != nil || s.State() != StateActive {
			b.Fatal(err)
		}
		if err := s.Unsubscribe(bg()); err != nil {
			b.Fatal(err)
		}
		if i%1024 == 1023 {
			b.StopTimer()
			w.clock.Advance(40 * time.Second)
			b.StartTimer()
		}
	}
	b.StopTimer()
	if a, n := bob.m.Subscriptions(); a+n != 0 {
		b.Fatalf("%d subscriptions left", a+n)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "subscriptions/s")
}

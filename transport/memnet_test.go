package transport

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sipxfer/sipxfer/sip"
)

// memRun sends 40 numbered requests over a Network with faults f and
// returns the CSeq numbers in the order the server received them.
func memRun(t *testing.T, seed int64, f Faults) (order []uint32, delivered, dropped, duplicated int) {
	t.Helper()
	clock := NewFakeClock(time.Unix(0, 0))
	n := NewNetwork(clock, seed)
	n.SetFaults(f)
	server := newLayer(t, Config{Clock: clock}, HandlerFunc(func(in *Inbound) {
		cseq, err := in.Msg.CSeq()
		if err != nil {
			t.Error(err)
		}
		order = append(order, cseq.Seq)
	}))
	dst := must[Addr](t)(server.ListenMem(n, mustAddr(t, UDP, "192.0.2.2:5060")))
	client := newLayer(t, Config{Clock: clock}, nil)
	must[Addr](t)(client.ListenMem(n, mustAddr(t, UDP, "192.0.2.1:5060")))
	for i := 1; i <= 40; i++ {
		req := sip.AppendRequestLine(nil, "OPTIONS", "sip:bob@192.0.2.2")
		req = sip.AppendHeader(req, sip.HeaderFrom, "<sip:a@192.0.2.1>;tag=1")
		req = sip.AppendHeader(req, sip.HeaderTo, "<sip:b@192.0.2.2>")
		req = sip.AppendHeader(req, sip.HeaderCallID, "det")
		req = sip.AppendCSeq(req, uint32(i), "OPTIONS")
		req = sip.AppendNoBody(req)
		if _, _, err := client.SendRequest(dst, fmt.Appendf(nil, "z9hG4bK%d", i), req); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Millisecond)
	}
	clock.Advance(time.Second)
	if clock.Pending() != 0 {
		t.Errorf("%d deliveries pending", clock.Pending())
	}
	delivered, dropped, duplicated = n.Stats()
	return order, delivered, dropped, duplicated
}

func TestMemnetDeterministic(t *testing.T) {
	f := Faults{Loss: 0.2, Duplicate: 0.2, Reorder: 0.3, Delay: 2 * time.Millisecond, Jitter: 3 * time.Millisecond}
	a, d1, l1, u1 := memRun(t, 7, f)
	b, d2, l2, u2 := memRun(t, 7, f)
	if !slices.Equal(a, b) || d1 != d2 || l1 != l2 || u1 != u2 {
		t.Errorf("same seed, different runs:\n%v\n%v", a, b)
	}
	if l1 == 0 || u1 == 0 || d1 != len(a) || d1 != 40-l1+u1 {
		t.Errorf("delivered %d dropped %d duplicated %d, order %v", d1, l1, u1, a)
	}
	if slices.IsSorted(a) {
		t.Errorf("no reordering: %v", a)
	}
	c, _, _, _ := memRun(t, 8, f)
	if slices.Equal(a, c) {
		t.Errorf("different seeds, same run: %v", a)
	}
}

func TestMemnetFaults(t *testing.T) {
	seq := func(n int, dup bool) []uint32 {
		var s []uint32
		for i := 1; i <= n; i++ {
			s = append(s, uint32(i))
			if dup {
				s = append(s, uint32(i))
			}
		}
		return s
	}
	if got, d, l, _ := memRun(t, 1, Faults{}); !slices.Equal(got, seq(40, false)) || d != 40 || l != 0 {
		t.Errorf("no faults: %v", got)
	}
	if got, d, l, _ := memRun(t, 1, Faults{Loss: 1}); len(got) != 0 || d != 0 || l != 40 {
		t.Errorf("Loss 1: %v delivered %d dropped %d", got, d, l)
	}
	if got, _, _, u := memRun(t, 1, Faults{Duplicate: 1}); !slices.Equal(got, seq(40, true)) || u != 40 {
		t.Errorf("Duplicate 1: %v", got)
	}
	// Delay alone keeps the order.
	if got, _, _, _ := memRun(t, 1, Faults{Delay: 50 * time.Millisecond}); !slices.Equal(got, seq(40, false)) {
		t.Errorf("Delay: %v", got)
	}
	// Reorder: held-back datagrams are overtaken; none is lost.
	got, _, _, _ := memRun(t, 1, Faults{Reorder: 0.5})
	if slices.IsSorted(got) || !slices.Equal(slices.Sorted(slices.Values(got)), seq(40, false)) {
		t.Errorf("Reorder: %v", got)
	}
}

// Zero delay delivers on the sender's goroutine, before Send returns;
// a delay waits for the Clock.
func TestMemnetSynchronousAndDelayed(t *testing.T) {
	clock := NewFakeClock(time.Unix(0, 0))
	n := NewNetwork(clock, 1)
	srv := newRecorder()
	server := newLayer(t, Config{Clock: clock}, srv)
	dst := must[Addr](t)(server.ListenMem(n, mustAddr(t, UDP, "192.0.2.2:5060")))
	client := newLayer(t, Config{Clock: clock}, nil)
	must[Addr](t)(client.ListenMem(n, mustAddr(t, UDP, "192.0.2.1:5060")))
	req := request("OPTIONS", "sip:bob@192.0.2.2")
	if _, _, err := client.SendRequest(dst, []byte("z9hG4bK1"), req); err != nil {
		t.Fatal(err)
	}
	select {
	case <-srv.ch:
	default:
		t.Fatal("not delivered synchronously")
	}
	n.SetFaults(Faults{Delay: time.Second})
	client.SendRequest(dst, []byte("z9hG4bK2"), req)
	srv.none(t)
	clock.Advance(999 * time.Millisecond)
	srv.none(t)
	clock.Advance(time.Millisecond)
	if g := srv.next(t); !strings.Contains(g.topVia, "z9hG4bK2") {
		t.Errorf("got %q", g.topVia)
	}
	// Nobody listening: dropped, like UDP.
	n.SetFaults(Faults{})
	if err := client.Send(mustAddr(t, UDP, "192.0.2.3:5060"), req); err != nil {
		t.Fatal(err)
	}
	if _, dropped, _ := n.Stats(); dropped != 1 {
		t.Errorf("dropped %d", dropped)
	}
	// Attach errors.
	if _, err := client.ListenMem(n, mustAddr(t, UDP, "192.0.2.2:5060")); err != ErrAddrInUse {
		t.Errorf("address in use: %v", err)
	}
	if a, err := client.ListenMem(n, mustAddr(t, UDP, "192.0.2.1:0")); err != nil || a.Port() != 49152 {
		t.Errorf("ephemeral: %v %v", a, err)
	}
	if _, err := client.ListenMem(n, mustAddr(t, UDP, "0.0.0.0:5060")); err != ErrBadMessage {
		t.Errorf("unspecified: %v", err)
	}
}

package transport

import (
	"testing"
	"time"
)

func TestFakeClockOrderAndStop(t *testing.T) {
	start := time.Unix(1000, 0)
	c := NewFakeClock(start)
	var got []string
	at := func(name string) func() {
		return func() { got = append(got, name+"@"+c.Now().Sub(start).String()) }
	}
	c.AfterFunc(2*time.Second, at("b"))
	c.AfterFunc(time.Second, at("a"))
	c.AfterFunc(2*time.Second, at("b2")) // same deadline: creation order
	stopped := c.AfterFunc(1500*time.Millisecond, at("never"))
	if !stopped.Stop() || stopped.Stop() {
		t.Fatal("Stop should succeed once")
	}
	// A callback arming a timer that falls due within the same Advance.
	c.AfterFunc(500*time.Millisecond, func() { c.AfterFunc(time.Second, at("chained")) })
	c.Advance(1500 * time.Millisecond)
	c.Advance(time.Second)
	want := []string{"a@1s", "chained@1.5s", "b@2s", "b2@2s"}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	if c.Pending() != 0 || c.Now() != start.Add(2500*time.Millisecond) {
		t.Errorf("pending %d now %v", c.Pending(), c.Now())
	}
	if _, ok := c.Step(); ok {
		t.Error("Step with nothing pending")
	}
	c.AfterFunc(time.Minute, func() {})
	if moved, ok := c.Step(); !ok || moved != time.Minute {
		t.Errorf("Step moved %v %v", moved, ok)
	}
}

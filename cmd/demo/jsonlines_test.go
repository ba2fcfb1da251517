package main

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

// writes records each Write to it and signals it on wrote.
type writes struct {
	mu    sync.Mutex
	got   []string
	wrote chan struct{}
}

func (w *writes) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.got = append(w.got, string(p))
	w.mu.Unlock()
	select {
	case w.wrote <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (w *writes) all() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.got...)
}

// Events written close together leave in one write, after the delay or at
// close, whichever comes first; none is lost or split.
func TestEventWriterGathersLines(t *testing.T) {
	out := &writes{wrote: make(chan struct{}, 1)}
	w := newEventWriter(out, time.Hour)
	w.write(listeningEvent{Event: "listening", Transport: "udp", Addr: "127.0.0.1:5060"})
	w.write(callEvent{Event: "call_incoming", CallID: "a@b", From: "<sip:a@b>"})
	if got := out.all(); len(got) != 0 {
		t.Fatalf("written before the delay: %q", got)
	}
	w.close()
	got := out.all()
	want := `{"event":"listening","transport":"udp","addr":"127.0.0.1:5060"}` + "\n"
	if len(got) != 1 || !strings.HasPrefix(got[0], want) || strings.Count(got[0], "\n") != 2 || !strings.Contains(got[0], `"from":"<sip:a@b>"`) {
		t.Fatalf("writes %q", got)
	}
	w.write(callEvent{Event: "call_ended", CallID: "a@b"})
	if got := out.all(); len(got) != 2 {
		t.Fatalf("a line after close not written at once: %q", got)
	}
}

// Without close, the timer writes the lines.
func TestEventWriterFlushesAfterDelay(t *testing.T) {
	out := &writes{wrote: make(chan struct{}, 1)}
	w := newEventWriter(out, time.Millisecond)
	defer w.close()
	w.write(callEvent{Event: "call_incoming", CallID: "x"})
	select {
	case <-out.wrote:
	case <-time.After(10 * time.Second):
		t.Fatal("not written after the delay")
	}
	if got := out.all(); len(got) != 1 || !bytes.HasSuffix([]byte(got[0]), []byte("\n")) {
		t.Fatalf("writes %q", got)
	}
}

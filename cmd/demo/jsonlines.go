// The JSON lines both "demo ua" and "demo events" write: the writer, one
// object per line from any goroutine, and the listening event.

package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/sipxfer/sipxfer/transport"
)

// eventWriter writes JSON events, one per line, from any goroutine. Lines
// written within delay of each other go out in one write: under load a UA
// has several events per call, and a system call for each was a tenth of
// its CPU time. A script reading the lines sees them at most delay late.
type eventWriter struct {
	mu     sync.Mutex
	out    io.Writer
	buf    bytes.Buffer
	enc    *json.Encoder // into buf
	delay  time.Duration // 0: every line at once
	timer  *time.Timer   // the pending flush
	closed bool
}

// eventDelay is how long the demo's events may wait to be written.
const eventDelay = 10 * time.Millisecond

// newEventWriter returns an eventWriter to out; with delay 0 every line is
// written at once. URIs keep their <> (no HTML escaping), for scripts to
// grep.
func newEventWriter(out io.Writer, delay time.Duration) *eventWriter {
	w := &eventWriter{out: out, delay: delay}
	w.enc = json.NewEncoder(&w.buf)
	w.enc.SetEscapeHTML(false)
	return w
}

func (w *eventWriter) write(v any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.enc.Encode(v); err != nil {
		fmt.Fprintln(os.Stderr, "demo: encoding event:", err)
		return
	}
	switch {
	case w.delay <= 0 || w.closed:
		w.flushLocked()
	case w.timer == nil:
		w.timer = time.AfterFunc(w.delay, w.flush)
	}
}

func (w *eventWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.timer = nil
	w.flushLocked()
}

// close writes what is waiting; later lines are written at once.
func (w *eventWriter) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	if w.timer != nil {
		w.timer.Stop()
		w.timer = nil
	}
	w.flushLocked()
}

func (w *eventWriter) flushLocked() {
	if w.buf.Len() == 0 {
		return
	}
	_, err := w.out.Write(w.buf.Bytes())
	w.buf.Reset()
	if err != nil && !errors.Is(err, os.ErrClosed) && !errors.Is(err, io.ErrClosedPipe) {
		fmt.Fprintln(os.Stderr, "demo: writing event:", err)
	}
}

type listeningEvent struct {
	Event     string `json:"event"`
	Transport string `json:"transport"`
	Addr      string `json:"addr"`
}

// transportName returns the lower-case name the -transport flag uses.
func transportName(p transport.Protocol) string {
	switch p {
	case transport.TCP:
		return "tcp"
	case transport.TLS:
		return "tls"
	}
	return "udp"
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

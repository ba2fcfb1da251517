// The JSON lines both "demo ua" and "demo events" write: the writer, one
// object per line from any goroutine, and the listening event.

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/sipxfer/sipxfer/transport"
)

// eventWriter writes JSON events, one per line, from any goroutine.
type eventWriter struct {
	mu  sync.Mutex
	enc *json.Encoder
}

func (w *eventWriter) write(v any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.enc.Encode(v); err != nil && !errors.Is(err, os.ErrClosed) && !errors.Is(err, io.ErrClosedPipe) {
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

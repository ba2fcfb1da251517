package transport

import (
	"sync"

	"github.com/sipxfer/sipxfer/sip"
)

// Trace is one SIP message the Layer sent or received, as a Tracer sees it.
type Trace struct {
	Sent   bool   // true: written to the network; false: received
	Local  Addr   // our end
	Remote Addr   // the peer's end
	Msg    []byte // the message bytes; valid only during TraceMessage
}

// Tracer observes every SIP message a Layer sends or receives, for logs,
// captures and ladder diagrams.
//
// Sent messages are traced once written (to the socket, or accepted by an
// in-memory Network): requests from SendRequest with their final Via,
// whatever Send and SendResponse write, and the responses the Layer sends
// itself (400, 505, 513). A failed write is not traced. Received messages
// are traced once they parse, before any check and before the Handler,
// with the top Via of a request already carrying received and rport (RFC
// 3581 §4); input that does not parse is not. Keep-alive CRLFs, sent or
// received (RFC 5626 §3.5.1), are not traced.
//
// TraceMessage is called concurrently from the goroutines that send and
// receive, so it must be safe for concurrent use; it runs on the message's
// path and should return quickly. The Trace and its Msg are valid only
// until it returns: copy what you keep.
//
// Order: on a socket a message is traced after its write returns, so the
// answer to it, read meanwhile on another goroutine, may be traced first.
// On an in-memory Network a message is traced as sent before the receiver
// handles it, so one Tracer shared by several Layers sees a conversation
// in order.
type Tracer interface {
	TraceMessage(t *Trace)
}

// tracePool recycles Traces: the pointer handed to an interface method
// escapes, and a Tracer should not cost an allocation per message.
var tracePool = sync.Pool{New: func() any { return new(Trace) }}

// traceSent reports b, written from local to remote, to the Tracer if
// there is one; small enough to inline, so that no Tracer costs a compare.
func (l *Layer) traceSent(local, remote Addr, b []byte) {
	if l.cfg.Tracer != nil {
		l.trace(true, local, remote, b)
	}
}

// traceReceived reports b, received on local from remote, to the Tracer if
// there is one.
func (l *Layer) traceReceived(local, remote Addr, b []byte) {
	if l.cfg.Tracer != nil {
		l.trace(false, local, remote, b)
	}
}

func (l *Layer) trace(sent bool, local, remote Addr, b []byte) {
	if sip.IsKeepAlive(b) {
		return
	}
	t := tracePool.Get().(*Trace)
	*t = Trace{Sent: sent, Local: local, Remote: remote, Msg: b}
	l.cfg.Tracer.TraceMessage(t)
	*t = Trace{}
	tracePool.Put(t)
}

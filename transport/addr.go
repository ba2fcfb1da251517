// Package transport carries SIP messages over UDP, TCP and TLS, and over an
// in-memory network for tests (RFC 3261 §18, RFC 3581).
package transport

import (
	"net/netip"

	"github.com/sipxfer/sipxfer/sip"
)

// Protocol is a SIP transport protocol, as named in a Via header field.
type Protocol uint8

// Transport protocols.
const (
	UDP Protocol = iota + 1
	TCP
	TLS
)

// String returns the protocol's Via token: "UDP", "TCP" or "TLS".
func (p Protocol) String() string {
	switch p {
	case UDP:
		return "UDP"
	case TCP:
		return "TCP"
	case TLS:
		return "TLS"
	}
	return "?"
}

// Reliable reports whether p is a reliable (stream) transport, which
// changes the transaction timers (RFC 3261 §17).
func (p Protocol) Reliable() bool { return p == TCP || p == TLS }

// DefaultPort is the port a URI or Via without one means: 5061 for TLS,
// 5060 otherwise (RFC 3261 §19.1.2, §18.2.2).
func (p Protocol) DefaultPort() uint16 {
	if p == TLS {
		return 5061
	}
	return 5060
}

// ParseProtocol returns the Protocol named by a Via transport token or a
// transport URI parameter, case-insensitively.
func ParseProtocol(b []byte) (Protocol, bool) {
	if len(b) != 3 {
		return 0, false
	}
	switch [3]byte{b[0] | 0x20, b[1] | 0x20, b[2] | 0x20} {
	case [3]byte{'u', 'd', 'p'}:
		return UDP, true
	case [3]byte{'t', 'c', 'p'}:
		return TCP, true
	case [3]byte{'t', 'l', 's'}:
		return TLS, true
	}
	return 0, false
}

// Addr is a transport address: a protocol, an IP address and a port.
type Addr struct {
	Proto Protocol
	netip.AddrPort
}

// String returns "udp/192.0.2.1:5060" or "tcp/[::1]:5060".
func (a Addr) String() string {
	p := "?"
	switch a.Proto {
	case UDP:
		p = "udp"
	case TCP:
		p = "tcp"
	case TLS:
		p = "tls"
	}
	return p + "/" + a.AddrPort.String()
}

// Inbound is a message received by the transport layer. It and its Msg are
// valid only until Handler.HandleInbound returns: the buffer behind Msg goes
// back to a pool. Use Msg.Clone to keep the message.
type Inbound struct {
	Msg    *sip.Message
	Local  Addr    // the listener or connection's local address
	Remote Addr    // the source of the message
	Reply  ReplyTo // for a request: where RFC 3261 §18.2.2 sends its responses
}

// ReplyTo records how a request arrived, so that its responses can be sent
// back per RFC 3261 §18.2.2 (see Layer.SendResponse).
type ReplyTo struct {
	Remote Addr   // source address and protocol of the request
	Local  Addr   // where it arrived
	ConnID uint64 // the stream connection it arrived on; 0 for datagrams
}

// Handler receives inbound messages. HandleInbound is called from the
// transport's reading goroutines, concurrently for different sources.
type Handler interface {
	HandleInbound(in *Inbound)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(in *Inbound)

// HandleInbound calls f(in).
func (f HandlerFunc) HandleInbound(in *Inbound) { f(in) }

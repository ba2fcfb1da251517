package transport

import "errors"

// Sentinel errors, for errors.Is.
var (
	// ErrClosed: the Layer has been closed.
	ErrClosed = errors.New("transport: layer closed")
	// ErrNoListener: the Layer has no listener of the protocol (and address
	// family) needed to send; call ListenUDP, ListenTCP, ListenTLS or
	// ListenMem first.
	ErrNoListener = errors.New("transport: no listener for the protocol")
	// ErrTooManyConns: opening a stream connection would exceed
	// Config.MaxConns.
	ErrTooManyConns = errors.New("transport: too many connections")
	// ErrConnRefused: nothing listens at the destination of an in-memory
	// stream connection.
	ErrConnRefused = errors.New("transport: connection refused")
	// ErrNoRoute: a response's top Via gives no address the transport can
	// send to without DNS (RFC 3263 §5, locating a response's destination,
	// is not implemented): a host name in sent-by or maddr, with no source
	// address to fall back on.
	ErrNoRoute = errors.New("transport: no route for the response")
	// ErrBadMessage: an outgoing message or branch is malformed (no request
	// line, a branch with CR, LF or ';', an unknown Via transport).
	ErrBadMessage = errors.New("transport: malformed outgoing message")
	// ErrAddrInUse: an in-memory address is already attached.
	ErrAddrInUse = errors.New("transport: address already in use")
	// ErrNoTLSConfig: ListenTLS needs Config.TLS with a certificate.
	ErrNoTLSConfig = errors.New("transport: no TLS configuration")
	// ErrTooLarge: an outgoing message does not fit a datagram.
	ErrTooLarge = errors.New("transport: message too large")
)

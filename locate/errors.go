package locate

import (
	"errors"
	"time"

	"github.com/sipxfer/sipxfer/dnsmsg"
)

// Sentinel errors, for errors.Is. A failed lookup is a *DNSError wrapping
// one of the first six; Targets wraps what it met in its own error.
var (
	// ErrNXDomain: the name does not exist (RCODE 3, NXDOMAIN).
	ErrNXDomain = errors.New("locate: no such domain")
	// ErrNoData: the name exists but has no records of the type asked
	// (RFC 2308 §2.2, NODATA).
	ErrNoData = errors.New("locate: no records of that type")
	// ErrServFail: the server answered with an error RCODE other than
	// NXDOMAIN: SERVFAIL, REFUSED, FORMERR, NOTIMP (DNSError.RCode says
	// which).
	ErrServFail = errors.New("locate: dns server failure")
	// ErrTimeout: no answer within the query's time (Client.Timeout or the
	// context's deadline), the one retransmission included.
	ErrTimeout = errors.New("locate: dns query timed out")
	// ErrBadAnswer: the answer does not decode (RFC 1035 §4) or does not
	// answer the question asked; the dnsmsg error, if any, is wrapped too.
	ErrBadAnswer = errors.New("locate: malformed dns answer")
	// ErrNetwork: the server could not be reached (connection refused,
	// no route).
	ErrNetwork = errors.New("locate: dns server unreachable")
	// ErrNoTargets: resolution found no address to send to. It wraps the
	// last lookup error, so errors.Is(err, ErrNXDomain) still tells why.
	ErrNoTargets = errors.New("locate: no targets")
	// ErrUnsupported: the URI cannot be located by RFC 3263: not a SIP or
	// SIPS URI, a transport parameter naming an unknown transport or one
	// the caller does not support, or a SIPS URI with transport=udp.
	ErrUnsupported = errors.New("locate: unsupported URI")
)

// DNSError is a failed lookup of one name and type.
type DNSError struct {
	Name   string       // the name asked about
	Type   dnsmsg.Type  // the type asked; TypeA for an address lookup
	Server string       // the server asked, if the error came from one
	RCode  dnsmsg.RCode // the response code, for ErrNXDomain and ErrServFail
	Err    error        // one of the sentinel errors above
	Cause  error        // what lies beneath (a dnsmsg or net error), or nil
	// SOA tells that the negative answer carried an SOA record, and then
	// NegativeTTL is how long it may be cached: the lesser of the SOA's
	// TTL and its MINIMUM field (RFC 2308 §5).
	SOA         bool
	NegativeTTL time.Duration
}

func (e *DNSError) Error() string {
	s := "locate: " + e.Type.String() + " " + e.Name + ": " + trimPrefix(e.Err.Error())
	if e.Err == ErrServFail {
		s += " (" + e.RCode.String() + ")"
	}
	if e.Cause != nil {
		s += ": " + e.Cause.Error()
	}
	if e.Server != "" {
		s += " (server " + e.Server + ")"
	}
	return s
}

// Unwrap returns the sentinel and the cause, so errors.Is and errors.As
// see both.
func (e *DNSError) Unwrap() []error {
	if e.Cause == nil {
		return []error{e.Err}
	}
	return []error{e.Err, e.Cause}
}

// trimPrefix drops "locate: " from a sentinel's text.
func trimPrefix(s string) string {
	const p = "locate: "
	if len(s) > len(p) && s[:len(p)] == p {
		return s[len(p):]
	}
	return s
}

// notFound reports whether err says there are no such records (NXDOMAIN or
// NODATA), the cases where RFC 3263 moves on to its next step.
func notFound(err error) bool {
	return errors.Is(err, ErrNXDomain) || errors.Is(err, ErrNoData)
}

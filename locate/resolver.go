package locate

import (
	"context"
	"net/netip"

	"github.com/sipxfer/sipxfer/dnsmsg"
)

// Resolver answers the three questions RFC 3263 asks. A name is a domain
// name with or without its trailing '.'. Every record carries its TTL in
// seconds, for caching. When there are no records a Resolver returns an
// error wrapping ErrNXDomain or ErrNoData (an empty result without error
// is taken as ErrNoData); any other error stops the step that asked.
// Callers must not modify the slices returned: a Cache shares them.
//
// Client speaks DNS itself; Cache puts a TTL-honouring cache in front of
// any Resolver; tests use a fake.
type Resolver interface {
	// LookupNAPTR returns the NAPTR records of name (RFC 3403).
	LookupNAPTR(ctx context.Context, name string) ([]NAPTR, error)
	// LookupSRV returns the SRV records of name (RFC 2782), each with
	// the addresses of its target that the answer's additional section
	// held, if any.
	LookupSRV(ctx context.Context, name string) ([]SRV, error)
	// LookupAddr returns the A and AAAA records of host.
	LookupAddr(ctx context.Context, host string) ([]IP, error)
}

// NAPTR is a NAPTR record and its TTL.
type NAPTR struct {
	dnsmsg.NAPTR
	TTL uint32
}

// SRV is an SRV record and its TTL.
type SRV struct {
	dnsmsg.SRV
	TTL uint32
	// Addrs are the target's A and AAAA records found in the additional
	// section of the same answer (RFC 2782 "Usage rules"); when empty the
	// target is looked up.
	Addrs []IP
}

// IP is an address from an A or AAAA record and its TTL.
type IP struct {
	Addr netip.Addr
	TTL  uint32
}

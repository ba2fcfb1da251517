package locate

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transport"
)

// Defaults of a Locator.
const (
	// DefaultMaxTargets bounds the list Targets returns.
	DefaultMaxTargets = 32
	// DefaultTimeout bounds one whole resolution (every query it makes).
	DefaultTimeout = 8 * time.Second
)

// Target is one place to send a request: a transport address, and the
// names it came from.
type Target struct {
	// Addr is where to send, and over which transport.
	transport.Addr
	// Domain is the SIP domain the URI named (its maddr, else its host),
	// without a trailing '.': the name a TLS server's certificate must
	// match (RFC 3261 §26.3.1, RFC 5922 §4), whatever SRV target the
	// address came from. Empty when the URI named an IP address.
	Domain string
	// Host is the name whose A or AAAA record gave the address (an SRV
	// target, or Domain), without a trailing '.'; empty for an IP address.
	Host string
}

// Locator finds where to send a request for a SIP or SIPS URI (RFC 3263
// §4). Its zero value is ready to use: DNS through DefaultResolver, every
// transport supported. A Locator is safe for concurrent use.
type Locator struct {
	// Resolver answers the DNS questions. Nil: DefaultResolver().
	Resolver Resolver
	// Supported reports whether the caller can send over a transport
	// (it has a listener for it). Nil: UDP, TCP and TLS.
	Supported func(transport.Protocol) bool
	// Rand returns a uniform random number in [0, n); it orders SRV
	// records of one priority by weight (RFC 2782). Nil: math/rand/v2.
	Rand func(n uint32) uint32
	// MaxTargets bounds the list. Default DefaultMaxTargets.
	MaxTargets int
	// Timeout bounds one call of Targets, on top of the context's own
	// deadline. Default DefaultTimeout.
	Timeout time.Duration
}

var (
	defaultOnce     sync.Once
	defaultResolver *Cache
)

// DefaultResolver returns the Resolver a Locator uses when it has none: a
// Cache (default sizes, the system clock) in front of a Client asking the
// first nameserver of /etc/resolv.conf, shared by the whole process.
func DefaultResolver() Resolver {
	defaultOnce.Do(func() {
		defaultResolver = NewCache(&Client{}, transport.SystemClock(), CacheConfig{})
	})
	return defaultResolver
}

func (l *Locator) supported(p transport.Protocol) bool {
	return l.Supported == nil || l.Supported(p)
}

// service is one way RFC 3263 reaches a server: a transport and the SRV
// service label that names it.
type service struct {
	proto transport.Protocol
	label string // "_sip._udp.", "_sip._tcp." or "_sips._tcp."
}

var (
	serviceUDP = service{transport.UDP, "_sip._udp."}
	serviceTCP = service{transport.TCP, "_sip._tcp."}
	serviceTLS = service{transport.TLS, "_sips._tcp."}
)

// serviceOf returns the service for a transport. RFC 3263 §4.2: TLS is
// looked up under "_sips" for SIP and SIPS URIs alike.
func serviceOf(p transport.Protocol) service {
	switch p {
	case transport.TCP:
		return serviceTCP
	case transport.TLS:
		return serviceTLS
	}
	return serviceUDP
}

// request is what RFC 3263 §4 reads from a URI.
type request struct {
	secure   bool
	target   []byte             // TARGET: maddr, else host
	ip       netip.Addr         // TARGET as an address, if it is one
	port     int                // 0 when absent
	proto    transport.Protocol // from the transport parameter; 0 when absent
	explicit bool               // proto came from the URI
}

// read checks the URI and picks out what §4 needs, allocating nothing.
func (l *Locator) read(u *sip.URI) (request, error) {
	var r request
	if u.Scheme != sip.SchemeSIP && u.Scheme != sip.SchemeSIPS {
		return r, fmt.Errorf("%w: scheme %q", ErrUnsupported, u.SchemeRaw)
	}
	r.secure = u.Scheme == sip.SchemeSIPS
	// RFC 3263 §4: TARGET is the maddr parameter if present, else the host.
	r.target = u.Host
	if m := u.Maddr(); len(m) > 0 {
		r.target = m
	}
	r.ip, _ = sip.HostIP(r.target)
	r.port = u.Port
	if t := u.Transport(); t != nil {
		p, ok := transport.ParseProtocol(t)
		if !ok {
			return r, fmt.Errorf("%w: transport %q", ErrUnsupported, t)
		}
		if r.secure {
			// A SIPS URI means TLS on every hop (RFC 3261 §26.2.2); TLS
			// runs over TCP, not UDP.
			if p == transport.UDP {
				return r, fmt.Errorf("%w: sips with transport=udp", ErrUnsupported)
			}
			p = transport.TLS
		}
		if !l.supported(p) {
			return r, fmt.Errorf("%w: transport %v not supported here", ErrUnsupported, p)
		}
		r.proto, r.explicit = p, true
	}
	return r, nil
}

// defaultProto is the transport when the URI names none and DNS chose
// none (RFC 3263 §4.1): TLS for SIPS, UDP for SIP, or for SIP the first of
// TCP and TLS the caller supports when it has no UDP.
func (l *Locator) defaultProto(r *request) (transport.Protocol, error) {
	if r.explicit {
		return r.proto, nil
	}
	if r.secure {
		if l.supported(transport.TLS) {
			return transport.TLS, nil
		}
		return 0, fmt.Errorf("%w: sips needs TLS, not supported here", ErrUnsupported)
	}
	for _, p := range [...]transport.Protocol{transport.UDP, transport.TCP, transport.TLS} {
		if l.supported(p) {
			return p, nil
		}
	}
	return 0, fmt.Errorf("%w: no transport supported", ErrUnsupported)
}

// Numeric returns the one target of a URI whose TARGET (maddr, else host)
// is an IP address, without DNS and without allocating (RFC 3263 §4.1,
// §4.2): the port is the URI's or the transport's default, the transport
// the URI's transport parameter, else UDP for SIP and TLS for SIPS. ok is
// false when TARGET is a host name, which needs Targets.
func (l *Locator) Numeric(u *sip.URI) (t Target, ok bool, err error) {
	r, err := l.read(u)
	if err != nil || !r.ip.IsValid() {
		return Target{}, false, err
	}
	p, err := l.defaultProto(&r)
	if err != nil {
		return Target{}, false, err
	}
	port := uint16(r.port)
	if port == 0 {
		port = p.DefaultPort()
	}
	return Target{Addr: transport.Addr{Proto: p, AddrPort: netip.AddrPortFrom(r.ip, port)}}, true, nil
}

// Targets returns, in the order to try them, the places a request for u
// may be sent (RFC 3263 §4). The caller sends to the first and, on a
// transport error, a timeout, or a 503 (Service Unavailable) response,
// tries the next with a new transaction (RFC 3263 §4.3), until one
// answers or the list ends. When TARGET (maddr, else host) is an IP
// address no DNS is asked (see Numeric). Otherwise:
//
//   - with a port: the A and AAAA records of TARGET, at that port, over
//     the transport parameter's transport, else UDP (SIP) or TLS (SIPS);
//   - with a transport parameter and no port: the SRV records of that
//     transport ("_sips._tcp" for TLS), else A and AAAA at its default
//     port;
//   - otherwise the NAPTR records of TARGET whose service is SIP+D2U,
//     SIP+D2T or SIPS+D2T (SIPS+D2T only for a SIPS URI), flag "s", and a
//     transport supported here, by order then preference, each followed
//     through its SRV records; if there are none, the SRV records of
//     "_sip._udp", "_sip._tcp" and "_sips._tcp" (only "_sips._tcp" for
//     SIPS), in that order; if there are none either, the A and AAAA
//     records of TARGET at the default port of UDP (SIP) or TLS (SIPS).
//
// SRV records are tried by priority, and by weighted random choice within
// one (RFC 2782); a lone record with target "." says the service is not
// offered. Addresses in an SRV answer's additional section are used
// without asking again. IPv4 addresses come before IPv6 for each name; a
// target already listed is not listed again. Every NAPTR record kept is
// used, later orders after earlier ones, so the list also serves for
// failover (RFC 3403 would stop at the first order that works).
//
// A lookup that finds nothing moves on to the next step; any other DNS
// failure (SERVFAIL, timeout, malformed answer) ends resolution with its
// error, since going on would ignore what the domain publishes. An empty
// result is an error wrapping ErrNoTargets and the last lookup error.
func (l *Locator) Targets(ctx context.Context, u *sip.URI) ([]Target, error) {
	if t, ok, err := l.Numeric(u); ok || err != nil {
		if err != nil {
			return nil, err
		}
		return []Target{t}, nil
	}
	r, _ := l.read(u) // Numeric checked it
	timeout := l.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	s := search{
		l:      l,
		ctx:    ctx,
		res:    l.Resolver,
		domain: strings.TrimSuffix(string(r.target), "."),
		max:    l.MaxTargets,
		rnd:    l.Rand,
	}
	if s.res == nil {
		s.res = DefaultResolver()
	}
	if s.max <= 0 {
		s.max = DefaultMaxTargets
	}
	if s.rnd == nil {
		s.rnd = rand.Uint32N
	}
	if err := s.run(&r); err != nil {
		return nil, err
	}
	if len(s.out) == 0 {
		if s.last == nil {
			return nil, fmt.Errorf("%w for %s", ErrNoTargets, s.domain)
		}
		return nil, fmt.Errorf("%w for %s: %w", ErrNoTargets, s.domain, s.last)
	}
	return s.out, nil
}

// search is one resolution in progress.
type search struct {
	l      *Locator
	ctx    context.Context
	res    Resolver
	domain string
	max    int
	rnd    func(uint32) uint32
	out    []Target
	last   error // the last "not found", for ErrNoTargets
}

func (s *search) run(r *request) error {
	// RFC 3263 §4.2: an explicit port means A/AAAA only.
	if r.port != 0 {
		p, err := s.l.defaultProto(r)
		if err != nil {
			return err
		}
		return s.addrs(p, s.domain, uint16(r.port))
	}
	// RFC 3263 §4.2: a transport parameter without a port: SRV for it.
	if r.explicit {
		found, err := s.srv(serviceOf(r.proto))
		if err != nil || found {
			return err
		}
		return s.addrs(r.proto, s.domain, r.proto.DefaultPort())
	}
	// RFC 3263 §4.1: NAPTR.
	found, err := s.naptr(r.secure)
	if err != nil || found {
		return err
	}
	// RFC 3263 §4.1: no usable NAPTR records; SRV for each transport
	// supported, "_sips" only for a SIPS URI.
	services := []service{serviceUDP, serviceTCP, serviceTLS}
	if r.secure {
		services = services[2:]
	}
	for _, sv := range services {
		if !s.l.supported(sv.proto) {
			continue
		}
		f, err := s.srv(sv)
		if err != nil {
			return err
		}
		found = found || f
	}
	if found {
		return nil
	}
	// RFC 3263 §4.2: no SRV records: A/AAAA at the default port.
	p, err := s.l.defaultProto(r)
	if err != nil {
		return err
	}
	return s.addrs(p, s.domain, p.DefaultPort())
}

// naptr follows TARGET's NAPTR records. found is true if any record was
// usable, whether or not its SRV records gave targets.
func (s *search) naptr(secure bool) (found bool, err error) {
	records, err := s.res.LookupNAPTR(s.ctx, s.domain)
	if err != nil {
		if notFound(err) {
			s.last = err
			return false, nil
		}
		return false, err
	}
	type use struct {
		NAPTR
		proto transport.Protocol
	}
	var uses []use
	for _, n := range records {
		p, ok := naptrService(n.Services)
		// RFC 3263 §4.1: a SIPS URI keeps only SIPS services; only
		// services the client supports are kept. RFC 3403 §4.1: flag "s"
		// says the replacement names SRV records; a regexp has no place.
		if !ok || secure && p != transport.TLS || !s.l.supported(p) ||
			!strings.EqualFold(n.Flags, "s") || n.Regexp != "" || n.Replacement == "." || n.Replacement == "" {
			continue
		}
		uses = append(uses, use{n, p})
	}
	// RFC 3403 §4.1: lower order first, then lower preference.
	slices.SortStableFunc(uses, func(a, b use) int {
		return cmp.Or(cmp.Compare(a.Order, b.Order), cmp.Compare(a.Preference, b.Preference))
	})
	for _, n := range uses {
		records, err := s.res.LookupSRV(s.ctx, n.Replacement)
		if err != nil {
			if !notFound(err) {
				return true, err
			}
			s.last = err
			continue
		}
		s.expand(n.proto, records)
	}
	return len(uses) > 0, nil
}

// naptrService maps a NAPTR service field to its transport (RFC 3263
// §4.1, RFC 3403 §4.1: services compare without regard to case).
func naptrService(sv string) (transport.Protocol, bool) {
	switch {
	case strings.EqualFold(sv, "SIP+D2U"):
		return transport.UDP, true
	case strings.EqualFold(sv, "SIP+D2T"):
		return transport.TCP, true
	case strings.EqualFold(sv, "SIPS+D2T"):
		return transport.TLS, true
	}
	return 0, false
}

// srv looks up one service's SRV records under TARGET and lists their
// targets. found is true if there were records (even the lone ".").
func (s *search) srv(sv service) (found bool, err error) {
	records, err := s.res.LookupSRV(s.ctx, sv.label+s.domain)
	if err != nil {
		if notFound(err) {
			s.last = err
			return false, nil
		}
		return false, err
	}
	if len(records) == 0 {
		return false, nil
	}
	s.expand(sv.proto, records)
	return true, nil
}

// expand lists the targets of SRV records in RFC 2782 order. A target
// whose addresses cannot be had is skipped: the others remain to try.
func (s *search) expand(p transport.Protocol, records []SRV) {
	for _, r := range orderSRV(records, s.rnd) {
		// RFC 2782: target "." means the service is not available here.
		if r.Target == "." || r.Target == "" {
			continue
		}
		host := strings.TrimSuffix(r.Target, ".")
		if len(r.Addrs) > 0 {
			s.add(p, host, r.Addrs, r.Port)
			continue
		}
		if err := s.addrs(p, host, r.Port); err != nil {
			s.last = err
		}
	}
}

// addrs looks up host's addresses and lists them with port.
func (s *search) addrs(p transport.Protocol, host string, port uint16) error {
	if len(s.out) >= s.max {
		return nil
	}
	ips, err := s.res.LookupAddr(s.ctx, host)
	if err != nil {
		if notFound(err) {
			s.last = err
			return nil
		}
		return err
	}
	s.add(p, host, ips, port)
	return nil
}

// add lists addresses, IPv4 first, skipping any already listed.
func (s *search) add(p transport.Protocol, host string, ips []IP, port uint16) {
	for _, v4 := range [...]bool{true, false} {
		for _, ip := range ips {
			a := ip.Addr.Unmap()
			if a.Is4() != v4 || !a.IsValid() || len(s.out) >= s.max {
				continue
			}
			t := Target{
				Addr:   transport.Addr{Proto: p, AddrPort: netip.AddrPortFrom(a, port)},
				Domain: s.domain,
				Host:   host,
			}
			if !s.listed(t.Addr) {
				s.out = append(s.out, t)
			}
		}
	}
}

func (s *search) listed(a transport.Addr) bool {
	for _, t := range s.out {
		if t.Addr == a {
			return true
		}
	}
	return false
}

// IsNotFound reports whether err says a name or its records do not exist
// (ErrNXDomain or ErrNoData), as opposed to a failure to find out.
func IsNotFound(err error) bool { return notFound(err) }

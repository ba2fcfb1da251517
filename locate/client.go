package locate

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/sipxfer/sipxfer/dnsmsg"
)

// DefaultQueryTimeout bounds one query when Client.Timeout is zero.
const DefaultQueryTimeout = 2 * time.Second

// maxCNAMEHops bounds how far a chain of CNAME records in one answer is
// followed.
const maxCNAMEHops = 8

// Client is a Resolver that speaks DNS itself (RFC 1035 §4.2): each
// question goes to one server over UDP, sent a second time if no answer
// came within half the query's time, and again over TCP when the answer
// has TC set. Answers are accepted only if they match the query's ID and
// question (RFC 5452 §9.1); others are ignored. A chain of CNAME records
// within an answer is followed; no further query is made for it.
//
// Each query uses a fresh socket, so its source port is the system's
// random choice, and a random ID. A Client is safe for concurrent use and
// must not be copied after first use.
type Client struct {
	// Server is the DNS server to ask. Zero: the first nameserver of
	// /etc/resolv.conf, else 127.0.0.1:53.
	Server netip.AddrPort
	// Timeout bounds each query, the UDP retransmission and the TCP retry
	// included; a context deadline can shorten it. Default
	// DefaultQueryTimeout (2 s).
	Timeout time.Duration

	once   sync.Once
	server netip.AddrPort
}

// ResolvConfServer returns the first nameserver of a resolv.conf file
// (resolv.conf(5): a line "nameserver ADDRESS"), at port 53. ok is false
// if the file cannot be read or names none.
func ResolvConfServer(path string) (server netip.AddrPort, ok bool) {
	f, err := os.Open(path)
	if err != nil {
		return netip.AddrPort{}, false
	}
	defer f.Close()
	sc := bufio.NewScanner(io.LimitReader(f, 64<<10))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 || fields[0] != "nameserver" {
			continue
		}
		if ip, err := netip.ParseAddr(fields[1]); err == nil {
			return netip.AddrPortFrom(ip, 53), true
		}
	}
	return netip.AddrPort{}, false
}

func (c *Client) serverAddr() netip.AddrPort {
	c.once.Do(func() {
		c.server = c.Server
		if !c.server.IsValid() {
			var ok bool
			if c.server, ok = ResolvConfServer("/etc/resolv.conf"); !ok {
				c.server = netip.MustParseAddrPort("127.0.0.1:53")
			}
		}
	})
	return c.server
}

// LookupNAPTR implements Resolver.
func (c *Client) LookupNAPTR(ctx context.Context, name string) ([]NAPTR, error) {
	rrs, _, err := c.lookup(ctx, name, dnsmsg.TypeNAPTR)
	if err != nil {
		return nil, err
	}
	out := make([]NAPTR, len(rrs))
	for i, rr := range rrs {
		out[i] = NAPTR{NAPTR: rr.NAPTR, TTL: rr.TTL}
	}
	return out, nil
}

// LookupSRV implements Resolver.
func (c *Client) LookupSRV(ctx context.Context, name string) ([]SRV, error) {
	rrs, m, err := c.lookup(ctx, name, dnsmsg.TypeSRV)
	if err != nil {
		return nil, err
	}
	out := make([]SRV, len(rrs))
	for i, rr := range rrs {
		out[i] = SRV{SRV: rr.SRV, TTL: rr.TTL}
		// RFC 2782: the additional section may hold the targets' addresses.
		for _, a := range m.Additional {
			if (a.Type == dnsmsg.TypeA || a.Type == dnsmsg.TypeAAAA) && a.Class == dnsmsg.ClassINET &&
				dnsmsg.EqualNames(a.Name, rr.SRV.Target) {
				out[i].Addrs = append(out[i].Addrs, IP{Addr: a.Addr, TTL: a.TTL})
			}
		}
	}
	return out, nil
}

// LookupAddr implements Resolver: an A query, then an AAAA query unless
// the name does not exist. Addresses of either kind are an answer; when
// there are none, an error other than "not found" wins, so a failing
// server is not mistaken for an empty name.
func (c *Client) LookupAddr(ctx context.Context, host string) ([]IP, error) {
	var out []IP
	a, _, errA := c.lookup(ctx, host, dnsmsg.TypeA)
	var errAAAA error
	if !errors.Is(errA, ErrNXDomain) {
		var aaaa []dnsmsg.RR
		aaaa, _, errAAAA = c.lookup(ctx, host, dnsmsg.TypeAAAA)
		a = append(a, aaaa...)
	}
	for _, rr := range a {
		out = append(out, IP{Addr: rr.Addr, TTL: rr.TTL})
	}
	switch {
	case len(out) > 0:
		return out, nil
	case errA != nil && !notFound(errA):
		return nil, errA
	case errAAAA != nil && !notFound(errAAAA):
		return nil, errAAAA
	case errAAAA != nil && shorterNegative(errAAAA, errA):
		return nil, errAAAA
	}
	return nil, errA
}

// shorterNegative reports whether negative answer a may be cached for
// less time than b, so that the pair is cached no longer than either.
func shorterNegative(a, b error) bool {
	var ea, eb *DNSError
	if !errors.As(a, &ea) || !errors.As(b, &eb) {
		return false
	}
	return ea.SOA && (!eb.SOA || ea.NegativeTTL < eb.NegativeTTL)
}

// lookup asks one question and returns the answer's records of type t
// owned by name or by the end of a CNAME chain starting there, with the
// whole message.
func (c *Client) lookup(ctx context.Context, name string, t dnsmsg.Type) ([]dnsmsg.RR, *dnsmsg.Message, error) {
	name = dnsmsg.Fqdn(name)
	server := c.serverAddr()
	fail := func(sentinel, cause error) error {
		return &DNSError{Name: name, Type: t, Server: server.String(), Err: sentinel, Cause: cause}
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultQueryTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	id := uint16(rand.Uint32())
	query, err := dnsmsg.AppendQuery(make([]byte, 2, 2+len(name)+18), id, name, t, true)
	if err != nil {
		return nil, nil, fail(ErrBadAnswer, err)
	}
	m, err := exchangeUDP(ctx, server, query[2:], id, name, t)
	if err == nil && m.Truncated {
		// RFC 1035 §4.2.1: a truncated answer; RFC 7766 §5: ask over TCP.
		binary.BigEndian.PutUint16(query, uint16(len(query)-2))
		m, err = exchangeTCP(ctx, server, query, id, name, t)
	}
	if err != nil {
		var de *DNSError
		if errors.As(err, &de) {
			de.Name, de.Type, de.Server = name, t, server.String()
			return nil, nil, de
		}
		return nil, nil, fail(ErrNetwork, err)
	}
	switch m.RCode {
	case dnsmsg.RCodeSuccess:
	case dnsmsg.RCodeNameError:
		return nil, nil, negative(m, fail(ErrNXDomain, nil))
	default:
		e := fail(ErrServFail, nil).(*DNSError)
		e.RCode = m.RCode
		return nil, nil, e
	}
	var rrs []dnsmsg.RR
	owner := name
	for hop := 0; hop < maxCNAMEHops && len(rrs) == 0 && owner != ""; hop++ {
		next := ""
		for _, rr := range m.Answers {
			if rr.Class != dnsmsg.ClassINET || !dnsmsg.EqualNames(rr.Name, owner) {
				continue
			}
			switch rr.Type {
			case t:
				rrs = append(rrs, rr)
			case dnsmsg.TypeCNAME:
				next = rr.Host
			}
		}
		owner = next
	}
	if len(rrs) == 0 {
		return nil, nil, negative(m, fail(ErrNoData, nil))
	}
	return rrs, m, nil
}

// negative fills e's negative TTL from the SOA record of m's authority
// section, if any (RFC 2308 §5).
func negative(m *dnsmsg.Message, err error) error {
	e := err.(*DNSError)
	e.RCode = m.RCode
	for _, rr := range m.Authority {
		if rr.Type == dnsmsg.TypeSOA {
			e.SOA = true
			e.NegativeTTL = time.Duration(min(rr.TTL, rr.SOA.Minimum)) * time.Second
			break
		}
	}
	return e
}

// udpBuffers holds read buffers for UDP answers, which may be as long as
// a datagram can be.
var udpBuffers = sync.Pool{New: func() any { b := make([]byte, dnsmsg.MaxMessageSize); return &b }}

// exchangeUDP sends query to server and waits for its answer, sending it
// once more when half the time is gone (RFC 1035 §4.2.1 leaves the
// retransmission policy to the resolver).
func exchangeUDP(ctx context.Context, server netip.AddrPort, query []byte, id uint16, name string, t dnsmsg.Type) (*dnsmsg.Message, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "udp", server.String())
	if err != nil {
		return nil, dialError(ctx, err)
	}
	defer conn.Close()
	// A cancelled context (not only a deadline) ends a blocked read.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	deadline, _ := ctx.Deadline()
	bp := udpBuffers.Get().(*[]byte)
	defer udpBuffers.Put(bp)
	buf := *bp
	for attempt := 0; attempt < 2; attempt++ {
		if ctx.Err() != nil {
			break
		}
		if _, err := conn.Write(query); err != nil {
			return nil, dialError(ctx, err)
		}
		until := deadline
		if attempt == 0 {
			until = time.Now().Add(time.Until(deadline) / 2)
		}
		conn.SetReadDeadline(until)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					break
				}
				return nil, dialError(ctx, err)
			}
			m, err := match(buf[:n], id, name, t)
			if err != nil {
				return nil, err
			}
			if m != nil {
				return m, nil
			}
			// Not ours (another ID or question): keep waiting.
		}
	}
	return nil, &DNSError{Err: ErrTimeout, Cause: ctx.Err()}
}

// exchangeTCP sends query, which starts with its two-octet length (RFC
// 1035 §4.2.2), over a new TCP connection and reads one answer.
func exchangeTCP(ctx context.Context, server netip.AddrPort, query []byte, id uint16, name string, t dnsmsg.Type) (*dnsmsg.Message, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", server.String())
	if err != nil {
		return nil, dialError(ctx, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	if deadline, ok := ctx.Deadline(); ok {
		conn.SetDeadline(deadline)
	}
	if _, err := conn.Write(query); err != nil {
		return nil, dialError(ctx, err)
	}
	var n [2]byte
	if _, err := io.ReadFull(conn, n[:]); err != nil {
		return nil, dialError(ctx, err)
	}
	buf := make([]byte, binary.BigEndian.Uint16(n[:]))
	if _, err := io.ReadFull(conn, buf); err != nil {
		return nil, dialError(ctx, err)
	}
	m, err := match(buf, id, name, t)
	if err == nil && m == nil {
		err = &DNSError{Err: ErrBadAnswer, Cause: errors.New("answer over TCP does not match the query")}
	}
	return m, err
}

// match decodes an answer and checks that it answers the query (RFC 5452
// §9.1: ID, and the question echoed). It returns nil, nil for a datagram
// that is not an answer to this query, which a UDP client ignores, and an
// error for one with this query's ID that does not decode.
func match(b []byte, id uint16, name string, t dnsmsg.Type) (*dnsmsg.Message, error) {
	if len(b) < 2 || binary.BigEndian.Uint16(b) != id {
		return nil, nil
	}
	m := new(dnsmsg.Message)
	if err := m.Decode(b); err != nil {
		return nil, &DNSError{Err: ErrBadAnswer, Cause: err}
	}
	if !m.Response || m.Opcode != 0 || len(m.Questions) != 1 {
		return nil, nil
	}
	q := m.Questions[0]
	if q.Type != t || q.Class != dnsmsg.ClassINET || !dnsmsg.EqualNames(q.Name, name) {
		return nil, nil
	}
	return m, nil
}

// dialError classifies a socket error: the context's end is a timeout,
// anything else an unreachable server.
func dialError(ctx context.Context, err error) error {
	var ne net.Error
	if ctx.Err() != nil || errors.As(err, &ne) && ne.Timeout() {
		return &DNSError{Err: ErrTimeout, Cause: err}
	}
	return &DNSError{Err: ErrNetwork, Cause: err}
}

package locate

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"testing"

	"github.com/sipxfer/sipxfer/dnsmsg"
)

// dnsServer is a DNS server for tests on 127.0.0.1, UDP and TCP on one
// port. For each query it calls answer, which returns the messages to
// send back (none: stay silent), already encoded.
type dnsServer struct {
	addr   netip.AddrPort
	udp    *net.UDPConn
	tcp    *net.TCPListener
	answer func(q *dnsmsg.Message, tcp bool) [][]byte

	mu      sync.Mutex
	queries []string // "udp SRV _sip._udp.example.test."
	wg      sync.WaitGroup
}

func startDNS(t *testing.T, answer func(q *dnsmsg.Message, tcp bool) [][]byte) *dnsServer {
	t.Helper()
	s := &dnsServer{answer: answer}
	for try := 0; ; try++ {
		udp, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
		if err != nil {
			t.Fatal(err)
		}
		addr := udp.LocalAddr().(*net.UDPAddr).AddrPort()
		tcp, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(addr))
		if err != nil {
			udp.Close()
			if try < 10 {
				continue // the TCP port was taken; try another
			}
			t.Fatal(err)
		}
		s.addr, s.udp, s.tcp = addr, udp, tcp
		break
	}
	s.wg.Add(2)
	go s.serveUDP()
	go s.serveTCP()
	t.Cleanup(func() {
		s.udp.Close()
		s.tcp.Close()
		s.wg.Wait()
	})
	return s
}

func (s *dnsServer) log(q *dnsmsg.Message, proto string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(q.Questions) == 1 {
		s.queries = append(s.queries, proto+" "+q.Questions[0].Type.String()+" "+q.Questions[0].Name)
	}
}

func (s *dnsServer) seen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.queries...)
}

func (s *dnsServer) serveUDP() {
	defer s.wg.Done()
	buf := make([]byte, 65535)
	for {
		n, from, err := s.udp.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		var q dnsmsg.Message
		if q.Decode(buf[:n]) != nil {
			continue
		}
		s.log(&q, "udp")
		for _, b := range s.answer(&q, false) {
			s.udp.WriteToUDPAddrPort(b, from)
		}
	}
}

func (s *dnsServer) serveTCP() {
	defer s.wg.Done()
	for {
		c, err := s.tcp.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer c.Close()
			var n [2]byte
			if _, err := io.ReadFull(c, n[:]); err != nil {
				return
			}
			b := make([]byte, binary.BigEndian.Uint16(n[:]))
			if _, err := io.ReadFull(c, b); err != nil {
				return
			}
			var q dnsmsg.Message
			if q.Decode(b) != nil {
				return
			}
			s.log(&q, "tcp")
			for _, a := range s.answer(&q, true) {
				c.Write(binary.BigEndian.AppendUint16(nil, uint16(len(a))))
				c.Write(a)
			}
		}()
	}
}

// reply encodes a response to q.
func reply(t *testing.T, q *dnsmsg.Message, rcode dnsmsg.RCode, answers, authority, additional []dnsmsg.RR) []byte {
	m := dnsmsg.Message{
		Header:     dnsmsg.Header{ID: q.ID, Response: true, RecursionDesired: q.RecursionDesired, RCode: rcode},
		Questions:  q.Questions,
		Answers:    answers,
		Authority:  authority,
		Additional: additional,
	}
	b, err := m.Append(nil)
	if err != nil {
		t.Error(err)
	}
	return b
}

func rrA(name, addr string, ttl uint32) dnsmsg.RR {
	a := netip.MustParseAddr(addr)
	typ := dnsmsg.TypeA
	if a.Is6() {
		typ = dnsmsg.TypeAAAA
	}
	return dnsmsg.RR{Name: name, Type: typ, Class: dnsmsg.ClassINET, TTL: ttl, Addr: a}
}

func rrSRV(name string, ttl uint32, prio, weight, port uint16, target string) dnsmsg.RR {
	return dnsmsg.RR{Name: name, Type: dnsmsg.TypeSRV, Class: dnsmsg.ClassINET, TTL: ttl,
		SRV: dnsmsg.SRV{Priority: prio, Weight: weight, Port: port, Target: target}}
}

func rrSOA(ttl, minimum uint32) dnsmsg.RR {
	return dnsmsg.RR{Name: "test.", Type: dnsmsg.TypeSOA, Class: dnsmsg.ClassINET, TTL: ttl,
		SOA: dnsmsg.SOA{MName: "ns.test.", RName: "root.test.", Serial: 1, Refresh: 60, Retry: 60, Expire: 600, Minimum: minimum}}
}

// zoneAnswer answers from a small zone: example.test has a NAPTR record
// for UDP, SRV records with glue for one target, and addresses.
func zoneAnswer(t *testing.T) func(q *dnsmsg.Message, tcp bool) [][]byte {
	return func(q *dnsmsg.Message, tcp bool) [][]byte {
		qn := q.Questions[0]
		var an, ad []dnsmsg.RR
		switch {
		case qn.Type == dnsmsg.TypeNAPTR && dnsmsg.EqualNames(qn.Name, "example.test"):
			an = []dnsmsg.RR{{Name: qn.Name, Type: dnsmsg.TypeNAPTR, Class: dnsmsg.ClassINET, TTL: 120,
				NAPTR: dnsmsg.NAPTR{Order: 10, Preference: 10, Flags: "s", Services: "SIP+D2U", Replacement: "_sip._udp.example.test."}}}
		case qn.Type == dnsmsg.TypeSRV && dnsmsg.EqualNames(qn.Name, "_sip._udp.example.test"):
			an = []dnsmsg.RR{rrSRV(qn.Name, 60, 10, 0, 5070, "a.example.test."), rrSRV(qn.Name, 60, 20, 0, 5071, "b.example.test.")}
			ad = []dnsmsg.RR{rrA("a.example.test.", "127.0.0.10", 60)}
		case qn.Type == dnsmsg.TypeA && dnsmsg.EqualNames(qn.Name, "b.example.test"):
			an = []dnsmsg.RR{rrA(qn.Name, "127.0.0.11", 30)}
		case qn.Type == dnsmsg.TypeAAAA && dnsmsg.EqualNames(qn.Name, "b.example.test"):
			an = []dnsmsg.RR{rrA(qn.Name, "::11", 30)}
		case qn.Type == dnsmsg.TypeA && dnsmsg.EqualNames(qn.Name, "alias.example.test"):
			an = []dnsmsg.RR{
				{Name: qn.Name, Type: dnsmsg.TypeCNAME, Class: dnsmsg.ClassINET, TTL: 30, Host: "b.example.test."},
				rrA("b.example.test.", "127.0.0.11", 30),
			}
		case dnsmsg.EqualNames(qn.Name, "example.test") || dnsmsg.EqualNames(qn.Name, "b.example.test") ||
			dnsmsg.EqualNames(qn.Name, "alias.example.test"):
			return [][]byte{reply(t, q, dnsmsg.RCodeSuccess, nil, []dnsmsg.RR{rrSOA(3600, 15)}, nil)}
		default:
			return [][]byte{reply(t, q, dnsmsg.RCodeNameError, nil, []dnsmsg.RR{rrSOA(20, 3600)}, nil)}
		}
		return [][]byte{reply(t, q, dnsmsg.RCodeSuccess, an, nil, ad)}
	}
}

// errorIs fails the test unless err matches every target.
func errorIs(t *testing.T, err error, targets ...error) {
	t.Helper()
	for _, target := range targets {
		if !errors.Is(err, target) {
			t.Fatalf("error %v is not %v", err, target)
		}
	}
}

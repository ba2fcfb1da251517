package locate

import (
	"context"
	"net/netip"
	"strings"
	"sync"

	"github.com/sipxfer/sipxfer/dnsmsg"
)

// fakeResolver answers from maps and records every question, so a test
// can check what was asked and what not. A name it does not know does
// not exist (NXDOMAIN); errs forces an error for "TYPE name".
type fakeResolver struct {
	mu    sync.Mutex
	naptr map[string][]NAPTR
	srv   map[string][]SRV
	addr  map[string][]IP
	errs  map[string]error
	asked []string
}

func newFake() *fakeResolver {
	return &fakeResolver{naptr: map[string][]NAPTR{}, srv: map[string][]SRV{}, addr: map[string][]IP{}, errs: map[string]error{}}
}

func fakeKey(kind, name string) string {
	return kind + " " + strings.ToLower(strings.TrimSuffix(name, "."))
}

func fakeLookup[T any](f *fakeResolver, kind string, t dnsmsg.Type, name string, m map[string][]T) ([]T, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := fakeKey(kind, name)
	f.asked = append(f.asked, k)
	if err, ok := f.errs[k]; ok {
		return nil, err
	}
	if v, ok := m[strings.ToLower(strings.TrimSuffix(name, "."))]; ok {
		return v, nil
	}
	return nil, &DNSError{Name: name, Type: t, Err: ErrNXDomain, RCode: dnsmsg.RCodeNameError}
}

func (f *fakeResolver) LookupNAPTR(_ context.Context, name string) ([]NAPTR, error) {
	return fakeLookup(f, "NAPTR", dnsmsg.TypeNAPTR, name, f.naptr)
}

func (f *fakeResolver) LookupSRV(_ context.Context, name string) ([]SRV, error) {
	return fakeLookup(f, "SRV", dnsmsg.TypeSRV, name, f.srv)
}

func (f *fakeResolver) LookupAddr(_ context.Context, host string) ([]IP, error) {
	return fakeLookup(f, "ADDR", dnsmsg.TypeA, host, f.addr)
}

func (f *fakeResolver) questions() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.asked...)
}

// Helpers to fill a fakeResolver.

func naptr(order, pref uint16, flags, services, replacement string) NAPTR {
	return NAPTR{NAPTR: dnsmsg.NAPTR{Order: order, Preference: pref, Flags: flags, Services: services, Replacement: replacement}, TTL: 300}
}

func srv(prio, weight, port uint16, target string, addrs ...string) SRV {
	s := SRV{SRV: dnsmsg.SRV{Priority: prio, Weight: weight, Port: port, Target: target}, TTL: 300}
	for _, a := range addrs {
		s.Addrs = append(s.Addrs, IP{Addr: netip.MustParseAddr(a), TTL: 300})
	}
	return s
}

func ips(addrs ...string) []IP {
	var out []IP
	for _, a := range addrs {
		out = append(out, IP{Addr: netip.MustParseAddr(a), TTL: 300})
	}
	return out
}

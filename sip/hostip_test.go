package sip

import (
	"net/netip"
	"strings"
	"testing"
)

// HostIP agrees with netip.ParseAddr (IPv4-mapped addresses unmapped),
// without allocating, except that RFC 3261 §25 IPv4address is 1*3DIGIT, so
// leading zeros are allowed where netip refuses them, and brackets hold only
// IPv6 (RFC 3261 §25 IPv6reference).
func TestHostIP(t *testing.T) {
	for _, s := range []string{
		"192.0.2.1", "0.0.0.0", "255.255.255.255", "256.1.1.1", "1.1.1", "1.1.1.1.", "1..1.1",
		"::", "::1", "1::", "2001:db8::1", "2001:DB8:0:0:8:800:200C:417A", "1:2:3:4:5:6:7:8",
		"1:2:3:4:5:6:7::8", "1:2:3:4:5:6:7:8:9", "::ffff:192.0.2.1", "64:ff9b::192.0.2.33",
		"1:2:3:4:5:6:192.0.2.1", "1:2:3:4:5:6:7:192.0.2.1", "1::2::3", ":1", "1:", "12345::",
		"::1%eth0", "fe80::1%1", "host.example.com", "", "[::1]", "[192.0.2.1]", ":::", "1:2:3:4:5:6:7:8::",
		"::ffff:1.2.3", "a:b:c:d:e:f:0:1", "00000::1", "0::0",
	} {
		want, err := netip.ParseAddr(strings.Trim(s, "[]"))
		ok := err == nil && want.Zone() == ""
		if strings.HasPrefix(s, "[") {
			ok = ok && want.Is6() // IPv6reference = "[" IPv6address "]"
		}
		got, gotOK := HostIP([]byte(s))
		if gotOK != ok || (ok && got != want.Unmap()) {
			t.Errorf("%q: got %v %v, want %v %v", s, got, gotOK, want, ok)
		}
	}
	for s, want := range map[string]string{"01.1.1.1": "1.1.1.1", "192.000.002.004": "192.0.2.4"} {
		if got, ok := HostIP([]byte(s)); !ok || got.String() != want {
			t.Errorf("%q: %v %v, want %s", s, got, ok, want)
		}
	}
	b := []byte("[2001:db8::1]")
	if n := testing.AllocsPerRun(100, func() { HostIP(b) }); n != 0 {
		t.Errorf("%v allocs", n)
	}
}

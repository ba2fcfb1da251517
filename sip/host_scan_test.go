package sip

import "testing"

// refValidHost is validHost as it was before scanHost: IPv6reference,
// IPv4address, else hostname label by label. FuzzScanHost holds scanHost
// to it.
func refValidHost(h []byte) bool {
	if len(h) > 0 && h[0] == '[' {
		_, ok := parseIPv6Reference(h)
		return ok
	}
	if len(h) > 0 && isDigit(h[0]) {
		if _, ok := parseIPv4(h); ok {
			return true
		}
	}
	return refValidHostname(h)
}

// refValidHostname reports whether h is a hostname (RFC 3261 §25):
// *( domainlabel "." ) toplabel [ "." ], labels of alphanum and '-' that
// neither start nor end with '-', the last starting with a letter; and,
// to be liberal in what is received, '_' anywhere in a label.
func refValidHostname(h []byte) bool {
	if len(h) > 0 && h[len(h)-1] == '.' {
		h = h[:len(h)-1]
	}
	start := 0
	for i := 0; i <= len(h); i++ {
		if i < len(h) && h[i] != '.' {
			if !isHostnameChar(h[i]) {
				return false
			}
			continue
		}
		if i == start || h[start] == '-' || h[i-1] == '-' {
			return false
		}
		if i == len(h) {
			return isAlpha(h[start]) // toplabel
		}
		start = i + 1
	}
	return false
}

// FuzzScanHost checks that scanHost finds the end hostEnd finds and judges
// the host as refValidHost does.
func FuzzScanHost(f *testing.F) {
	for _, s := range []string{"example.com", "a.b.", "a..b", ".", "a.", "-a.b", "a-.b", "a.1b", "192.0.2.1",
		"192.0.2.1.", "256.1.1.1", "1.2.3", "[::1]", "[::1", "my_host.local", "x", "1a.b2", "a.b-c.d;x", "host:5060",
		"192.0.2.1:5060", "192.0.2.1;x", "192.0.2.1a", "192.0.2.1-b.c", "1.2.3.4.5", "1.2.3.4.", "1.2.3.0256", "001.2.3.4", "1.2.3.4_"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		end, ok := scanHost(b, 0)
		if want := hostEnd(b, 0); end != want {
			t.Fatalf("scanHost(%q) end %d, hostEnd %d", b, end, want)
		}
		if want := refValidHost(b[:end]); ok != want {
			t.Fatalf("scanHost(%q) = %v, reference %v", b[:end], ok, want)
		}
		if got, want := validHost(b), refValidHost(b); got != want {
			t.Fatalf("validHost(%q) = %v, reference %v", b, got, want)
		}
	})
}

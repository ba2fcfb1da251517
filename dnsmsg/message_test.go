package dnsmsg

import (
	"bytes"
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

// header returns a 12-octet header with the given flags and counts.
func header(id, flags uint16, qd, an, ns, ar int) []byte {
	return []byte{byte(id >> 8), byte(id), byte(flags >> 8), byte(flags),
		0, byte(qd), 0, byte(an), 0, byte(ns), 0, byte(ar)}
}

func TestAppendQueryBytes(t *testing.T) {
	got, err := AppendQuery(nil, 0x1234, "sip.Example.test", TypeNAPTR, true)
	if err != nil {
		t.Fatal(err)
	}
	want := append(header(0x1234, 0x0100, 1, 0, 0, 0),
		3, 's', 'i', 'p', 7, 'E', 'x', 'a', 'm', 'p', 'l', 'e', 4, 't', 'e', 's', 't', 0,
		0, 35, 0, 1)
	if !bytes.Equal(got, want) {
		t.Fatalf("query\n got % x\nwant % x", got, want)
	}
	// The same with a trailing dot, and appended to a prefix.
	got2, err := AppendQuery([]byte{0xAA, 0xBB}, 0x1234, "sip.Example.test.", TypeNAPTR, true)
	if err != nil || !bytes.Equal(got2[2:], want) || got2[0] != 0xAA {
		t.Fatalf("query with trailing dot: % x, %v", got2, err)
	}
}

// RFC 1035 §4.1.4's example: F.ISI.ARPA, then FOO.F.ISI.ARPA as FOO and a
// pointer to it, ARPA as a pointer into it, the root as a zero octet; here
// they are the owners of four records, the first at offset 12 (20 in the
// RFC's figure).
func TestDecodeCompressionRFC1035Example(t *testing.T) {
	msg := header(1, 0x8000, 0, 4, 0, 0)
	base := len(msg)
	rec := func(name ...byte) {
		msg = append(msg, name...)
		msg = append(msg, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1)
	}
	rec(1, 'F', 3, 'I', 'S', 'I', 4, 'A', 'R', 'P', 'A', 0)
	rec(3, 'F', 'O', 'O', 0xC0, byte(base))
	rec(0xC0, byte(base+6))
	rec(0)
	var m Message
	if err := m.Decode(msg); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, rr := range m.Answers {
		names = append(names, rr.Name)
	}
	want := []string{"F.ISI.ARPA.", "FOO.F.ISI.ARPA.", "ARPA.", "."}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("names %q, want %q", names, want)
	}
	if a := m.Answers[1]; a.Type != TypeA || a.TTL != 60 || a.Addr != netip.MustParseAddr("192.0.2.1") {
		t.Fatalf("record %+v", a)
	}
}

func TestDecodeBadNames(t *testing.T) {
	q := func(name ...byte) []byte {
		return append(append(header(1, 0x8000, 1, 0, 0, 0), name...), 0, 1, 0, 1)
	}
	long := header(1, 0x8000, 1, 0, 0, 0)
	for range 5 {
		long = append(long, 63)
		long = append(long, bytes.Repeat([]byte{'a'}, 63)...)
	}
	long = append(long, 0, 0, 1, 0, 1)
	// A chain of pointers, each to a label in front of the previous one,
	// that sums past 255 octets.
	chain := header(1, 0x8000, 2, 0, 0, 0)
	for range 3 {
		chain = append(chain, 63)
		chain = append(chain, bytes.Repeat([]byte{'b'}, 63)...)
	}
	chain = append(chain, 0, 0, 1, 0, 1)
	chain = append(chain, 63)
	chain = append(chain, bytes.Repeat([]byte{'c'}, 63)...)
	chain = append(chain, 0xC0, 12, 0, 1, 0, 1)
	cases := map[string][]byte{
		"pointer to itself":         q(0xC0, 12),
		"pointer forwards":          q(0xC0, 14, 0),
		"pointer into its own name": q(1, 'a', 0xC0, 12),
		"pointer loop": append(append(header(1, 0x8000, 2, 0, 0, 0),
			1, 'a', 0xC0, 18, 0, 1, 0, 1), 0xC0, 12, 0, 1, 0, 1),
		"reserved label type 01":  q(0x40, 'a', 0),
		"reserved label type 10":  q(0x80, 'a', 0),
		"label past the end":      q(5, 'a'),
		"pointer cut":             q(0xC0),
		"no root label":           q(1, 'a'),
		"name over 255 octets":    long,
		"pointers over 255 total": chain,
	}
	for name, msg := range cases {
		var m Message
		err := m.Decode(msg)
		var e *Error
		if !errors.Is(err, ErrMalformed) || !errors.As(err, &e) || e.Offset < 0 || e.Offset > len(msg) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// fullResponse is a response with one record of every decoded type.
func fullResponse() *Message {
	return &Message{
		Header: Header{ID: 0xBEEF, Response: true, Authoritative: true, Truncated: true,
			RecursionDesired: true, RecursionAvailable: true, RCode: RCodeNameError, Opcode: 2},
		Questions: []Question{{Name: "example.test.", Type: TypeNAPTR, Class: ClassINET}},
		Answers: []RR{
			{Name: "example.test.", Type: TypeNAPTR, Class: ClassINET, TTL: 300, NAPTR: NAPTR{
				Order: 10, Preference: 50, Flags: "s", Services: "SIP+D2U", Replacement: "_sip._udp.example.test."}},
			{Name: "example.test.", Type: TypeNAPTR, Class: ClassINET, TTL: 300, NAPTR: NAPTR{
				Order: 20, Preference: 5, Flags: "u", Services: "E2U+sip", Regexp: "!^.*$!sip:info@example.test!", Replacement: "."}},
			{Name: "_sip._udp.example.test.", Type: TypeSRV, Class: ClassINET, TTL: 60, SRV: SRV{
				Priority: 1, Weight: 10, Port: 5070, Target: "a.example.test."}},
			{Name: "alias.example.test.", Type: TypeCNAME, Class: ClassINET, TTL: 5, Host: "a.example.test."},
		},
		Authority: []RR{
			{Name: "test.", Type: TypeSOA, Class: ClassINET, TTL: 3600, SOA: SOA{
				MName: "ns.test.", RName: "hostmaster.test.", Serial: 7, Refresh: 1, Retry: 2, Expire: 3, Minimum: 30}},
			{Name: "test.", Type: TypeNS, Class: ClassINET, TTL: 3600, Host: "ns.test."},
		},
		Additional: []RR{
			{Name: "a.example.test.", Type: TypeA, Class: ClassINET, TTL: 60, Addr: netip.MustParseAddr("192.0.2.7")},
			{Name: "a.example.test.", Type: TypeAAAA, Class: ClassINET, TTL: 60, Addr: netip.MustParseAddr("2001:db8::7")},
			{Name: "w\\.x\\\\y\\032z.test.", Type: Type(99), Class: ClassINET, TTL: 1, Data: []byte{1, 2, 3}},
		},
	}
}

func TestAppendDecodeRoundTrip(t *testing.T) {
	m := fullResponse()
	b, err := m.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	var got Message
	if err := got.Decode(b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&got, m) {
		t.Fatalf("round trip\n got %+v\nwant %+v", got, *m)
	}
	// The escaped owner name is the label "w.x\y z" on the wire.
	if !bytes.Contains(b, []byte("\x07w.x\\y z\x04test\x00")) {
		t.Fatalf("escaped name not on the wire: % x", b)
	}
	// Every strict prefix fails cleanly.
	for n := range len(b) {
		if err := got.Decode(b[:n]); !errors.Is(err, ErrMalformed) {
			t.Fatalf("prefix of %d octets: %v", n, err)
		}
	}
	if err := got.Decode(append(b, 0)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("trailing octet: %v", err)
	}
}

func TestDecodeBadRData(t *testing.T) {
	rr := func(typ byte, rdata ...byte) []byte {
		m := append(header(1, 0x8000, 0, 1, 0, 0), 0, 0, typ, 0, 1, 0, 0, 0, 1, 0, byte(len(rdata)))
		return append(m, rdata...)
	}
	cases := map[string][]byte{
		"A of 5 octets":          rr(1, 1, 2, 3, 4, 5),
		"AAAA of 4 octets":       rr(28, 1, 2, 3, 4),
		"SRV short":              rr(33, 0, 1, 0, 1, 0),
		"SRV with extra octet":   rr(33, 0, 1, 0, 1, 0, 1, 0, 9),
		"SRV name past RDATA":    append(rr(33, 0, 1, 0, 1, 0, 1, 1), 'a', 0),
		"NAPTR string past end":  rr(35, 0, 1, 0, 1, 5, 's'),
		"NAPTR no replacement":   rr(35, 0, 1, 0, 1, 1, 's', 0, 0),
		"CNAME with extra octet": rr(5, 0, 0),
		"SOA short":              rr(6, 0, 0, 0, 0, 0, 1),
		"RDATA past the end":     append(header(1, 0x8000, 0, 1, 0, 0), 0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 1),
	}
	for name, msg := range cases {
		var m Message
		if err := m.Decode(msg); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestDecodeLimits(t *testing.T) {
	var m Message
	if err := m.Decode(make([]byte, MaxMessageSize+1)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized message: %v", err)
	}
	// Counts over MaxRecords are refused from the header alone.
	if err := m.Decode(header(1, 0x8000, 0, 255, 255, 255)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("too many records: %v", err)
	}
	// Counts the message is too short to hold are refused before decoding.
	if err := m.Decode(header(1, 0x8000, 1, 100, 0, 0)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("counts past the end: %v", err)
	}
	if err := m.Decode(make([]byte, 11)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("short header: %v", err)
	}
}

func TestDecodeHeaderFlagsAndTTL(t *testing.T) {
	// QR, opcode 0, AA, TC, RD, RA, RCODE SERVFAIL; one A record whose TTL
	// has the top bit set, which RFC 2181 §8 says to take as zero.
	msg := append(header(7, 0x8782, 0, 1, 0, 0), 0, 0, 1, 0, 1, 0x80, 0, 0, 5, 0, 4, 127, 0, 0, 1)
	var m Message
	if err := m.Decode(msg); err != nil {
		t.Fatal(err)
	}
	want := Header{ID: 7, Response: true, Authoritative: true, Truncated: true,
		RecursionDesired: true, RecursionAvailable: true, RCode: RCodeServerFailure}
	if m.Header != want {
		t.Fatalf("header %+v, want %+v", m.Header, want)
	}
	if m.Answers[0].TTL != 0 || m.Answers[0].Name != "." {
		t.Fatalf("record %+v", m.Answers[0])
	}
}

func TestAppendErrors(t *testing.T) {
	cases := map[string]struct {
		m    Message
		want error
	}{
		"empty name":         {Message{Questions: []Question{{Name: ""}}}, ErrName},
		"empty label":        {Message{Questions: []Question{{Name: "a..b"}}}, ErrName},
		"leading dot":        {Message{Questions: []Question{{Name: ".a"}}}, ErrName},
		"label of 64":        {Message{Questions: []Question{{Name: strings.Repeat("x", 64) + ".test"}}}, ErrName},
		"name of 256":        {Message{Questions: []Question{{Name: strings.Repeat("x.", 127) + "xx"}}}, ErrName},
		"bad escape":         {Message{Questions: []Question{{Name: "a\\25"}}}, ErrName},
		"escape over 255":    {Message{Questions: []Question{{Name: "a\\300"}}}, ErrName},
		"trailing backslash": {Message{Questions: []Question{{Name: "a\\"}}}, ErrName},
		"A with IPv6":        {Message{Answers: []RR{{Name: "a.", Type: TypeA, Addr: netip.IPv6Loopback()}}}, ErrRecord},
		"AAAA without":       {Message{Answers: []RR{{Name: "a.", Type: TypeAAAA}}}, ErrRecord},
		"long string":        {Message{Answers: []RR{{Name: "a.", Type: TypeNAPTR, NAPTR: NAPTR{Regexp: strings.Repeat("r", 256), Replacement: "."}}}}, ErrRecord},
		"too many records":   {Message{Answers: make([]RR, MaxRecords+1)}, ErrTooLarge},
	}
	for name, c := range cases {
		b, err := c.m.Append([]byte("prefix"))
		if !errors.Is(err, c.want) || string(b) != "prefix" {
			t.Errorf("%s: %q, %v; want %v and dst unchanged", name, b, err, c.want)
		}
	}
	// The longest name that fits: 255 octets on the wire.
	name := strings.Repeat("x.", 126) + "x"
	if b, err := AppendQuery(nil, 1, name, TypeA, false); err != nil || len(b) != 12+255+4 {
		t.Fatalf("255-octet name: %d octets, %v", len(b), err)
	}
}

func TestEqualNamesAndFqdn(t *testing.T) {
	for _, c := range []struct {
		a, b string
		eq   bool
	}{
		{"Example.TEST.", "example.test", true},
		{"example.test", "example.tes", false},
		{".", ".", true},
		{"a\\.", "a\\", false},
	} {
		if got := EqualNames(c.a, c.b); got != c.eq {
			t.Errorf("EqualNames(%q, %q) = %v", c.a, c.b, got)
		}
	}
	for in, want := range map[string]string{"a.test": "a.test.", "a.test.": "a.test.", ".": ".", "a\\.": "a\\..", "a\\\\.": "a\\\\."} {
		if got := Fqdn(in); got != want {
			t.Errorf("Fqdn(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTypeAndRCodeStrings(t *testing.T) {
	if TypeNAPTR.String() != "NAPTR" || Type(99).String() != "TYPE99" ||
		RCodeNameError.String() != "NXDOMAIN" || RCode(9).String() != "RCODE9" {
		t.Fatal("mnemonics")
	}
}

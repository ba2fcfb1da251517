package sip

import (
	"bufio"
	"bytes"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// RFC 5118 §4 IPv6 torture messages, byte-exact as the RFC prints them,
// one file each, with an index (testdata/rfc5118/INDEX.tsv).
const ipv6TortureDir = "../testdata/rfc5118"

// ipv6Case says what the stack does with one RFC 5118 message: err is the
// sentinel Parse or Validate fails with (nil: the message is accepted);
// fixLength marks a message whose printed Content-Length miscounts its
// body: as printed it is refused like any datagram whose Content-Length
// exceeds it (RFC 3261 §18.3: 400), and with the length corrected it is
// accepted and checked.
type ipv6Case struct {
	file, section, expect string
	err                   error
	status                int
	fixLength             bool
	check                 func(t *testing.T, m *Message)
}

var ipv6Cases = []ipv6Case{
	{file: "ipv6-good.dat", section: "4.1", expect: "valid", check: func(t *testing.T, m *Message) {
		wantHostIP(t, "Request-URI", m.RequestURI().Host, "2001:db8::10")
		via, _ := m.TopVia()
		wantHostIP(t, "Via sent-by", via.Host, "2001:db8::9:1")
		wantHostIP(t, "Contact", nameAddr(t, m, HeaderContact).URI.Host, "2001:db8::1")
	}},
	// §4.2: "should respond with a 400 (Bad Request)".
	{file: "ipv6-bad.dat", section: "4.2", expect: "invalid", err: ErrBadURI, status: 400},
	// §4.3: well formed; the last group is part of the address, not a port.
	{file: "port-ambiguous.dat", section: "4.3", expect: "valid", check: func(t *testing.T, m *Message) {
		wantHostIP(t, "Request-URI", m.RequestURI().Host, "2001:db8::10:5070")
		equalInt(t, "Request-URI port", m.RequestURI().Port, 0)
	}},
	{file: "port-unambiguous.dat", section: "4.4", expect: "valid", check: func(t *testing.T, m *Message) {
		wantHostIP(t, "Request-URI", m.RequestURI().Host, "2001:db8::10")
		equalInt(t, "Request-URI port", m.RequestURI().Port, 5070)
	}},
	// §4.5: received with "[" "]" is outside the grammar, but robust
	// implementations parse the top Via and go on.
	{file: "via-received-param-with-delim.dat", section: "4.5", expect: "robust", check: func(t *testing.T, m *Message) {
		via, _ := m.TopVia()
		wantHostIP(t, "Via received", via.Received, "2001:db8::9:255")
		wantHostIP(t, "Via sent-by", via.Host, "2001:db8::9:1")
	}},
	{file: "via-received-param-no-delim.dat", section: "4.5", expect: "valid", check: func(t *testing.T, m *Message) {
		via, _ := m.TopVia()
		wantHostIP(t, "Via received", via.Received, "2001:db8::9:255")
	}},
	// §4.6: IPv6 addresses in SDP go without brackets.
	{file: "ipv6-in-sdp.dat", section: "4.6", expect: "valid", fixLength: true, check: func(t *testing.T, m *Message) {
		wantHostIP(t, "Request-URI", m.RequestURI().Host, "2001:db8::10")
		isTrue(t, "SDP c= line", bytes.Contains(m.Body(), []byte("\r\nc=IN IP6 2001:db8::20\r\n")))
	}},
	{file: "mult-ip-in-header.dat", section: "4.7", expect: "valid", check: func(t *testing.T, m *Message) {
		var vias []Via
		for it := m.Values(HeaderVia); ; {
			v, ok := it.Next()
			if !ok {
				break
			}
			var via Via
			if err := via.Parse(v); err != nil {
				t.Fatal(err)
			}
			vias = append(vias, via)
		}
		equalInt(t, "Vias", len(vias), 3)
		wantHostIP(t, "Via 1", vias[0].Host, "2001:db8::9:1")
		equalInt(t, "Via 1 port", vias[0].Port, 6050)
		wantHostIP(t, "Via 2", vias[1].Host, "192.0.2.1")
		equalStr(t, "Via 3 transport", vias[2].Transport, "TCP")
		wantHostIP(t, "Via 3", vias[2].Host, "2001:db8::9:255")
		wantHostIP(t, "Via 3 received", vias[2].Received, "192.0.2.200")
	}},
	{file: "mult-ip-in-sdp.dat", section: "4.8", expect: "valid", fixLength: true, check: func(t *testing.T, m *Message) {
		isTrue(t, "SDP IPv4 and IPv6", bytes.Contains(m.Body(), []byte("c=IN IP4 192.0.2.1\r\n")) &&
			bytes.Contains(m.Body(), []byte("c=IN IP6 2001:db8::1\r\n")))
	}},
	// §4.9: an IPv4-mapped address is an IPv6 reference; HostIP gives the
	// IPv4 address it maps, so that it compares with a packet's source.
	{file: "ipv4-mapped-ipv6.dat", section: "4.9", expect: "valid", fixLength: true, check: func(t *testing.T, m *Message) {
		via, _ := m.TopVia()
		equalStr(t, "Via sent-by", via.Host, "[::ffff:192.0.2.10]")
		wantHostIP(t, "Via sent-by", via.Host, "192.0.2.10")
		equalInt(t, "Via port", via.Port, 19823)
		wantHostIP(t, "Contact", nameAddr(t, m, HeaderContact).URI.Host, "192.0.2.2")
	}},
	// §4.10: the RFC 3261 ABNF let "2001:db8:::192.0.2.1" through; a robust
	// implementation may ignore the extra colon. The stack does: the URI
	// names the same address as the correct one, and equals it.
	{file: "ipv6-bug-abnf-3-colons.dat", section: "4.10", expect: "robust", check: func(t *testing.T, m *Message) {
		wantHostIP(t, "Request-URI", m.RequestURI().Host, "2001:db8::192.0.2.1")
		var good URI
		if err := good.Parse([]byte("sip:user@[2001:db8::192.0.2.1]")); err != nil {
			t.Fatal(err)
		}
		isTrue(t, "equals the correct URI", m.RequestURI().Equal(&good))
	}},
	{file: "ipv6-correct-abnf-2-colons.dat", section: "4.10", expect: "valid", check: func(t *testing.T, m *Message) {
		wantHostIP(t, "Request-URI", m.RequestURI().Host, "2001:db8::192.0.2.1")
	}},
}

func wantHostIP(t *testing.T, what string, host []byte, want string) {
	t.Helper()
	ip, ok := HostIP(host)
	if !ok || ip != netip.MustParseAddr(want).Unmap() {
		t.Errorf("%s host %q: got %v %v, want %s", what, host, ip, ok, want)
	}
}

func TestRFC5118(t *testing.T) {
	f, err := os.Open(filepath.Join(ipv6TortureDir, "INDEX.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	index := map[string][2]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		cols := strings.Split(sc.Text(), "\t")
		if len(cols) != 4 {
			t.Fatalf("INDEX.tsv: %q", sc.Text())
		}
		if cols[0] != "file" {
			index[cols[0]] = [2]string{cols[1], cols[2]}
		}
	}
	if len(index) != len(ipv6Cases) {
		t.Errorf("INDEX.tsv lists %d files, %d cases", len(index), len(ipv6Cases))
	}
	for _, tc := range ipv6Cases {
		t.Run(strings.TrimSuffix(tc.file, ".dat"), func(t *testing.T) {
			if row := index[tc.file]; row != [2]string{tc.section, tc.expect} {
				t.Errorf("case says §%s %s, INDEX.tsv says %v", tc.section, tc.expect, row)
			}
			raw, err := os.ReadFile(filepath.Join(ipv6TortureDir, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			var m Message
			if tc.fixLength {
				// As printed, a Content-Length beyond the body is refused
				// (400), one short of it cuts the body (RFC 3261 §18.3).
				fixed := fixContentLength(t, raw)
				err := Parse(&m, bytes.Clone(raw))
				var pe *ParseError
				if printed, real := printedLength(raw), contentLength(fixed); printed > real {
					if !errors.Is(err, ErrContentLength) || !errors.As(err, &pe) || pe.StatusCode() != 400 {
						t.Errorf("as printed: %v, want 400 for a Content-Length larger than the message", err)
					}
				} else if err != nil || len(m.Body()) != printed {
					t.Errorf("as printed: %v, body %d bytes, want %d", err, len(m.Body()), printed)
				}
				raw = fixed
			}
			err = Parse(&m, bytes.Clone(raw))
			if err == nil {
				err = m.Validate()
			}
			if tc.err != nil {
				var pe *ParseError
				if !errors.Is(err, tc.err) || !errors.As(err, &pe) || pe.StatusCode() != tc.status {
					t.Fatalf("got %v, want %v (%d)", err, tc.err, tc.status)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, &m)
		})
	}
}

// contentLength returns the body length of a message fixContentLength wrote.
func contentLength(msg []byte) int {
	_, body, _ := bytes.Cut(msg, []byte("\r\n\r\n"))
	return len(body)
}

// printedLength returns the value of the Content-Length line of msg.
func printedLength(msg []byte) int {
	_, rest, _ := bytes.Cut(msg, []byte("Content-Length: "))
	line, _, _ := bytes.Cut(rest, []byte("\r\n"))
	n, _ := strconv.Atoi(string(line))
	return n
}

// fixContentLength returns a copy of msg with its Content-Length set to
// the length of its body.
func fixContentLength(t *testing.T, msg []byte) []byte {
	head, body, ok := bytes.Cut(msg, []byte("\r\n\r\n"))
	i := bytes.Index(head, []byte("Content-Length: "))
	if !ok || i < 0 {
		t.Fatal("no Content-Length or body")
	}
	j := i + len("Content-Length: ")
	k := j
	for k < len(head) && head[k] >= '0' && head[k] <= '9' {
		k++
	}
	out := append([]byte(nil), head[:j]...)
	out = strconv.AppendInt(out, int64(len(body)), 10)
	out = append(out, head[k:]...)
	out = append(out, "\r\n\r\n"...)
	return append(out, body...)
}

package fuzz

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"github.com/sipxfer/sipxfer/bench"
)

// tortureDir holds the RFC 4475 torture messages, relative to this package.
const tortureDir = "../testdata/rfc4475"

// handWritten are edge cases the other seeds lack: compact names, folding,
// bare LF line ends, more fields than a Message indexes inline, leading
// CRLFs, a stream of two messages, fragments.
var handWritten = []string{
	"OPTIONS sip:a@b SIP/2.0\nv: SIP/2.0/UDP h;branch=z9hG4bK1\ni: x@y\nf: <sip:a@b>;tag=1\nt: sip:b@c\nl: 0\n\n",
	"\r\n\r\nBYE sip:bob@192.0.2.4 SIP/2.0\r\nVia: SIP/2.0/TCP 192.0.2.1\r\n ;branch=z9hG4bK7\r\nSubject: a\r\n\tb\r\nCall-ID: c@d\r\nCSeq: 2 BYE\r\nFrom: <sip:a@b>;tag=x\r\nTo: <sip:b@c>;tag=y\r\nContent-Length: 3\r\n\r\nabcEXTRA",
	"SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP [2001:db8::1]:5060;received=2001:db8::9;rport=1234;branch=z9hG4bK2\r\nFrom: a <sip:a@b>;tag=1\r\nTo: \"B \\\"x\\\"\" <sip:b@c>;tag=2\r\nCall-ID: q\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
	"SIP/2.0 100\r\n\r\n",
	"SIP/2.0 603 Declined\r\nContent-Type: text/plain\r\n",
	"Via: SIP/2.0/UDP h\r\nCSeq: 1 INVITE",
	"\r\n\r\nOPTIONS sip:a@b SIP/2.0\r\nContent-Length: 0\r\n\r\nOPTIONS sip:a@b SIP/2.0\r\nl: 2\r\n\r\nhi\r\n",
	"MESSAGE sip:a@b SIP/2.0\r\n" + strings.Repeat("X-Pad: 1\r\n", 40) + "Content-Length: 0\r\n\r\n",
	"SUBSCRIBE sip:a@b SIP/2.0\r\nEvent: presence.winfo;id=\"q\"\r\nExpires: 0\r\nRetry-After: 18 (later);duration=5\r\nRefer-Sub: false\r\nMax-Forwards: 0\r\nWarning: 399 h \"w\"\r\n\r\n",
}

// messageSeeds returns whole messages: the benchmark messages, the
// hand-written edge cases and every RFC 4475 torture message.
func messageSeeds(f *testing.F) [][]byte {
	f.Helper()
	var seeds [][]byte
	for _, s := range []string{bench.Invite, bench.Refer, bench.Notify, bench.OK200} {
		seeds = append(seeds, []byte(s))
	}
	for _, s := range handWritten {
		seeds = append(seeds, []byte(s))
	}
	entries, err := os.ReadDir(tortureDir)
	if err != nil {
		f.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".dat") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(tortureDir, e.Name()))
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, b)
		n++
	}
	if n == 0 {
		f.Fatalf("no .dat files in %s", tortureDir)
	}
	return seeds
}

// rawField is a header field as a naive reading finds it, without the sip
// parser: the seeds must come out even when the parser rejects a message.
type rawField struct{ name, value string }

// splitMessage returns the start line and the header fields of msg,
// unfolding continuation lines and tolerating anything.
func splitMessage(msg []byte) (start string, fields []rawField) {
	lines := strings.Split(string(bytes.TrimLeft(msg, "\r\n")), "\n")
	for i, line := range lines {
		line = strings.TrimSuffix(line, "\r")
		switch {
		case i == 0:
			start = line
		case line == "":
			return start, fields
		case (line[0] == ' ' || line[0] == '\t') && len(fields) > 0:
			fields[len(fields)-1].value += " " + strings.TrimSpace(line)
		default:
			name, value, _ := strings.Cut(line, ":")
			fields = append(fields, rawField{strings.ToLower(strings.TrimSpace(name)), strings.TrimSpace(value)})
		}
	}
	return start, fields
}

// valueSeeds returns the values of the fields named (lower case, long or
// compact form) in every seed message, each whole and split at commas.
func valueSeeds(f *testing.F, names ...string) [][]byte {
	f.Helper()
	var out [][]byte
	for _, msg := range messageSeeds(f) {
		_, fields := splitMessage(msg)
		for _, fl := range fields {
			for _, n := range names {
				if fl.name != n {
					continue
				}
				out = append(out, []byte(fl.value))
				if parts := strings.Split(fl.value, ","); len(parts) > 1 {
					for _, p := range parts {
						out = append(out, []byte(strings.TrimSpace(p)))
					}
				}
			}
		}
	}
	return out
}

// uriSeeds returns URIs: Request-URIs and every <...> in the header fields
// of the seed messages, and a few of other schemes and shapes.
func uriSeeds(f *testing.F) [][]byte {
	f.Helper()
	out := [][]byte{
		[]byte("tel:+1-201-555-0123;ext=1"),
		[]byte("tel:7042;phone-context=example.com"),
		[]byte("sips:[2001:db8::1]:5061;transport=tls;lr"),
		[]byte("sip:%61lice:pw@h.example.com;user=phone;maddr=192.0.2.1?subject=hi&priority=urgent"),
		[]byte("urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6"),
		[]byte("SIP:ALICE@ATLANTA.EXAMPLE.COM;Transport=TCP"),
	}
	for _, msg := range messageSeeds(f) {
		start, fields := splitMessage(msg)
		if parts := strings.Split(start, " "); len(parts) == 3 && !strings.HasPrefix(parts[0], "SIP/") {
			out = append(out, []byte(parts[1]))
		}
		for _, fl := range fields {
			for v := fl.value; ; {
				lt := strings.IndexByte(v, '<')
				if lt < 0 {
					break
				}
				gt := strings.IndexByte(v[lt:], '>')
				if gt < 0 {
					break
				}
				out = append(out, []byte(v[lt+1:lt+gt]))
				v = v[lt+gt:]
			}
		}
	}
	return out
}

// within reports whether inner is a view into outer's memory rather than a
// copy. An empty inner says nothing about where it points and passes.
func within(outer, inner []byte) bool {
	if len(inner) == 0 {
		return true
	}
	if len(outer) == 0 {
		return false
	}
	o := uintptr(unsafe.Pointer(unsafe.SliceData(outer)))
	i := uintptr(unsafe.Pointer(unsafe.SliceData(inner)))
	return i >= o && i+uintptr(len(inner)) <= o+uintptr(len(outer))
}

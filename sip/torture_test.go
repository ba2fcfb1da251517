package sip

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// RFC 4475 torture messages, byte-exact, one file each, with an index of
// their sections and expected outcomes.
const tortureDir = "../testdata/rfc4475"

// tortureCase says what the stack does with one RFC 4475 message.
//
// A message is read as a UDP datagram (Parse), then checked (Validate). For
// a message the stack rejects, step names the call that rejects it: "Parse",
// "Validate", or the typed accessor that reads the faulty header field on
// demand ("Date"); err is the sentinel and status the ParseError's
// StatusCode. owed is the response RFC 4475 says a UAS owes (for a request)
// or what becomes of a response; check asserts what the section calls out.
type tortureCase struct {
	file    string
	section string // RFC 4475 section, as in INDEX.tsv
	expect  string // valid, invalid, semantic or unreferenced, as in INDEX.tsv

	step   string // "" when Parse and Validate both succeed
	err    error
	status int
	reason string // a substring of ParseError.Reason naming the fault

	owed  string
	check func(t *testing.T, m *Message, raw []byte)
}

// accessors are the typed accessors a step other than Parse or Validate
// may name.
var accessors = map[string]func(m *Message) error{
	"Date": func(m *Message) error { _, err := m.Date(); return err },
}

var tortureCases = []tortureCase{
	// §3.1.1 Valid messages
	{file: "wsinv.dat", section: "3.1.1.1", expect: "valid", owed: "processed as usual", check: checkWsinv},
	{file: "intmeth.dat", section: "3.1.1.2", expect: "valid", owed: "501 with Allow (endpoint); 404 or forwarded (proxy)", check: checkIntmeth},
	{file: "esc01.dat", section: "3.1.1.3", expect: "valid", owed: "processed as usual", check: checkEsc01},
	{file: "escnull.dat", section: "3.1.1.4", expect: "valid", owed: "200 registering two contacts", check: checkEscnull},
	{file: "esc02.dat", section: "3.1.1.5", expect: "valid", owed: "501 (endpoint): unknown method", check: checkEsc02},
	{file: "lwsdisp.dat", section: "3.1.1.6", expect: "valid", owed: "processed as usual", check: checkLwsdisp},
	{file: "longreq.dat", section: "3.1.1.7", expect: "valid", owed: "processed as usual", check: checkLongreq},
	{file: "dblreq.dat", section: "3.1.1.8", expect: "valid", owed: "REGISTER handled; trailing INVITE ignored", check: checkDblreq},
	{file: "semiuri.dat", section: "3.1.1.9", expect: "valid", owed: "processed as usual", check: checkSemiuri},
	{file: "transports.dat", section: "3.1.1.10", expect: "valid", owed: "processed as usual", check: checkTransports},
	{file: "mpart01.dat", section: "3.1.1.11", expect: "valid", owed: "processed as usual", check: checkMpart01},
	{file: "unreason.dat", section: "3.1.1.12", expect: "valid", owed: "response accepted", check: checkUnreason},
	{file: "noreason.dat", section: "3.1.1.13", expect: "valid", owed: "response accepted", check: checkNoreason},

	// §3.1.2 Invalid messages
	{file: "badinv01.dat", section: "3.1.2.1", expect: "invalid", step: "Validate", err: ErrBadHeader, status: 400,
		reason: "in Via", owed: "400", check: checkBadinv01},
	{file: "clerr.dat", section: "3.1.2.2", expect: "invalid", step: "Parse", err: ErrContentLength, status: 400,
		reason: "Content-Length larger than message", owed: "400 (UDP); on a stream wait, then close", check: checkClerr},
	{file: "ncl.dat", section: "3.1.2.3", expect: "invalid", step: "Parse", err: ErrContentLength, status: 400,
		reason: "bad Content-Length value", owed: "400 (UDP); on a stream close the connection", check: checkNcl},
	{file: "scalar02.dat", section: "3.1.2.4", expect: "invalid", step: "Validate", err: ErrBadHeader, status: 400,
		reason: "bad CSeq number in CSeq", owed: "400 (for the CSeq)", check: checkScalar02},
	{file: "scalarlg.dat", section: "3.1.2.5", expect: "invalid", step: "Validate", err: ErrBadHeader, status: 400,
		reason: "bad CSeq number in CSeq", owed: "none: the response is discarded", check: checkScalarlg},
	{file: "quotbal.dat", section: "3.1.2.6", expect: "invalid", step: "Validate", err: ErrBadHeader, status: 400,
		reason: "unterminated quoted string in To", owed: "400", check: checkQuotbal},
	{file: "ltgtruri.dat", section: "3.1.2.7", expect: "invalid", step: "Parse", err: ErrBadURI, status: 400,
		reason: "bad scheme in Request-URI", owed: "400"},
	{file: "lwsruri.dat", section: "3.1.2.8", expect: "invalid", step: "Parse", err: ErrBadURI, status: 400,
		reason: "empty parameter in Request-URI", owed: "400"},
	{file: "lwsstart.dat", section: "3.1.2.9", expect: "invalid", step: "Parse", err: ErrMalformed, status: 400,
		reason: "bad request line", owed: "400"},
	{file: "trws.dat", section: "3.1.2.10", expect: "invalid", step: "Parse", err: ErrMalformed, status: 400,
		reason: "bad SIP version", owed: "400"},
	{file: "escruri.dat", section: "3.1.2.11", expect: "invalid", step: "Parse", err: ErrBadURI, status: 400,
		reason: "headers in Request-URI", owed: "400"},
	{file: "baddate.dat", section: "3.1.2.12", expect: "invalid", step: "Date", err: ErrBadHeader, status: 400,
		reason: "bad date in Date", owed: "400 if Date matters to the element, else ignored", check: checkBaddate},
	{file: "regbadct.dat", section: "3.1.2.13", expect: "invalid", step: "Validate", err: ErrBadHeader, status: 400,
		reason: "outside <> in Contact", owed: "400"},
	{file: "badaspec.dat", section: "3.1.2.14", expect: "invalid", step: "Validate", err: ErrBadHeader, status: 400,
		reason: "whitespace in URI in To", owed: "400"},
	{file: "baddn.dat", section: "3.1.2.15", expect: "invalid", step: "Parse", err: ErrIncomplete, status: 400,
		reason: "no end of header fields", owed: "400", check: checkBaddn},
	{file: "badvers.dat", section: "3.1.2.16", expect: "invalid", step: "Parse", err: ErrVersion, status: 505,
		reason: "unsupported SIP version", owed: "505"},
	{file: "mismatch01.dat", section: "3.1.2.17", expect: "invalid", step: "Validate", err: ErrBadHeader, status: 400,
		reason: "CSeq method does not match", owed: "400"},
	{file: "mismatch02.dat", section: "3.1.2.18", expect: "invalid", step: "Validate", err: ErrBadHeader, status: 400,
		reason: "CSeq method does not match", owed: "501 preferred, 400 acceptable", check: checkMismatch02},
	{file: "bigcode.dat", section: "3.1.2.19", expect: "invalid", step: "Parse", err: ErrMalformed, status: 400,
		reason: "bad status code", owed: "none: the response is dropped"},

	// §3.2 Transaction layer semantics
	{file: "badbranch.dat", section: "3.2.1", expect: "semantic", owed: "400, or RFC 2543 transaction matching", check: checkBadbranch},

	// §3.3 Application-layer semantics
	{file: "insuf.dat", section: "3.3.1", expect: "semantic", step: "Validate", err: ErrMissingHeader, status: 400,
		reason: "missing To", owed: "400", check: checkInsuf},
	{file: "unkscm.dat", section: "3.3.2", expect: "semantic", step: "Validate", err: ErrUnsupportedScheme, status: 416,
		reason: "unsupported URI scheme in Request-URI", owed: "416", check: checkUnkscm},
	{file: "novelsc.dat", section: "3.3.3", expect: "semantic", step: "Validate", err: ErrUnsupportedScheme, status: 416,
		reason: "unsupported URI scheme in Request-URI", owed: "416 (scheme never accepted) or 404", check: checkNovelsc},
	{file: "unksm2.dat", section: "3.3.4", expect: "semantic", owed: "400 (registrar: To is not a SIP or SIPS AOR); proxy forwards", check: checkUnksm2},
	{file: "bext01.dat", section: "3.3.5", expect: "semantic", owed: "420 with Unsupported listing the Require (UAS) or Proxy-Require (proxy) tags", check: checkBext01},
	{file: "invut.dat", section: "3.3.6", expect: "semantic", owed: "415 with Accept (endpoint)", check: checkInvut},
	{file: "regaut01.dat", section: "3.3.7", expect: "semantic", owed: "401 with a known scheme (registrar doing auth); 405 (endpoint)", check: checkRegaut01},
	{file: "multi01.dat", section: "3.3.8", expect: "semantic", step: "Validate", err: ErrBadHeader, status: 400,
		reason: "more than one To", owed: "400", check: checkMulti01},
	{file: "mcl01.dat", section: "3.3.9", expect: "semantic", step: "Parse", err: ErrContentLength, status: 400,
		reason: "more than one Content-Length", owed: "400 (UDP); on a stream close the connection", check: checkMcl01},
	{file: "bcast.dat", section: "3.3.10", expect: "semantic", owed: "none: endpoint discards, proxy drops", check: checkBcast},
	{file: "zeromf.dat", section: "3.3.11", expect: "semantic", owed: "200 (UAS); 483 (proxy)", check: checkZeromf},
	{file: "cparam01.dat", section: "3.3.12", expect: "semantic", owed: "200; unknownparam is a contact-param", check: checkCparam01},
	{file: "cparam02.dat", section: "3.3.13", expect: "semantic", owed: "200; unknownparam is a uri-parameter", check: checkCparam02},
	{file: "regescrt.dat", section: "3.3.14", expect: "semantic", owed: "200; binding keeps the escaped Route", check: checkRegescrt},
	{file: "sdp01.dat", section: "3.3.15", expect: "semantic", owed: "406 with Warning 399, or 400", check: checkSdp01},

	// §3.4 Backward compatibility
	{file: "inv2543.dat", section: "3.4.1", expect: "semantic", owed: "accepted and processed", check: checkInv2543},

	// In the RFC's archive but in no section: a request line without
	// SIP-Version (and a header line without a colon further down).
	{file: "test.dat", section: "-", expect: "unreferenced", step: "Parse", err: ErrMalformed, status: 400,
		reason: "bad request line", owed: "400 (no section says)", check: checkTest},
}

func TestTorture(t *testing.T) {
	index := readTortureIndex(t)
	cases := map[string]*tortureCase{}
	for i := range tortureCases {
		tc := &tortureCases[i]
		if cases[tc.file] != nil {
			t.Fatalf("%s: two cases", tc.file)
		}
		cases[tc.file] = tc
	}
	// Every listed file exists and has a case; every .dat file is listed.
	dats, err := filepath.Glob(filepath.Join(tortureDir, "*.dat"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range dats {
		if _, ok := index[filepath.Base(p)]; !ok {
			t.Errorf("%s is not listed in INDEX.tsv", filepath.Base(p))
		}
	}
	if len(index) != 50 {
		t.Errorf("INDEX.tsv lists %d files, want 49 RFC 4475 messages and test.dat", len(index))
	}
	for file, row := range index {
		tc := cases[file]
		if tc == nil {
			t.Errorf("%s: listed in INDEX.tsv but has no test case", file)
			continue
		}
		if tc.section != row[0] || tc.expect != row[1] {
			t.Errorf("%s: case says §%s %s, INDEX.tsv says §%s %s", file, tc.section, tc.expect, row[0], row[1])
		}
	}
	for file := range cases {
		if _, ok := index[file]; !ok {
			t.Errorf("%s: test case for a file not in INDEX.tsv", file)
		}
	}

	for i := range tortureCases {
		tc := &tortureCases[i]
		t.Run(strings.TrimSuffix(tc.file, ".dat"), func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(tortureDir, tc.file))
			if err != nil {
				t.Fatalf("%s listed in INDEX.tsv but unreadable: %v", tc.file, err)
			}
			// Parse rewrites folds in place; keep the file's bytes for check.
			buf := bytes.Clone(raw)
			var m Message
			runTortureCase(t, tc, &m, buf)
			if tc.check != nil && !t.Failed() {
				tc.check(t, &m, raw)
			}
		})
	}
}

func runTortureCase(t *testing.T, tc *tortureCase, m *Message, buf []byte) {
	t.Helper()
	err := Parse(m, buf)
	if tc.step == "Parse" {
		wantParseError(t, "Parse", err, tc)
		return
	}
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	// What parses is written back by AppendTo as the same message.
	var back Message
	if err := Parse(&back, m.AppendTo(nil)); err != nil {
		t.Errorf("AppendTo output does not parse: %v", err)
	} else if err := sameMessage(m, &back); err != nil {
		t.Errorf("AppendTo round trip: %v", err)
	}
	err = m.Validate()
	if tc.step == "Validate" {
		wantParseError(t, "Validate", err, tc)
		return
	}
	if err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if tc.step == "" {
		return
	}
	access, ok := accessors[tc.step]
	if !ok {
		t.Fatalf("unknown step %q", tc.step)
	}
	wantParseError(t, tc.step, access(m), tc)
}

// wantParseError checks that step failed with a *ParseError wrapping the
// case's sentinel, with its status code and reason.
func wantParseError(t *testing.T, step string, err error, tc *tortureCase) {
	t.Helper()
	if !errors.Is(err, tc.err) {
		t.Fatalf("%s: err = %v, want %v", step, err, tc.err)
	}
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("%s: %T is not a *ParseError", step, err)
	}
	if pe.StatusCode() != tc.status {
		t.Errorf("%s: StatusCode() = %d, want %d", step, pe.StatusCode(), tc.status)
	}
	if !strings.Contains(pe.Reason, tc.reason) {
		t.Errorf("%s: reason %q, want it to contain %q", step, pe.Reason, tc.reason)
	}
}

// readTortureIndex returns INDEX.tsv as file -> [section, expected].
func readTortureIndex(t *testing.T) map[string][2]string {
	t.Helper()
	f, err := os.Open(filepath.Join(tortureDir, "INDEX.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	index := map[string][2]string{}
	sc := bufio.NewScanner(f)
	for line := 0; sc.Scan(); line++ {
		cols := strings.Split(sc.Text(), "\t")
		if len(cols) != 4 {
			t.Fatalf("INDEX.tsv line %d: %d columns", line+1, len(cols))
		}
		if line == 0 {
			continue // header row
		}
		if _, dup := index[cols[0]]; dup {
			t.Fatalf("INDEX.tsv lists %s twice", cols[0])
		}
		index[cols[0]] = [2]string{cols[1], cols[2]}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return index
}

// Helpers for the checks.

func equalStr[S ~string | ~[]byte](t *testing.T, what string, got S, want string) {
	t.Helper()
	if string(got) != want {
		t.Errorf("%s = %q, want %q", what, got, want)
	}
}

func equalInt(t *testing.T, what string, got, want int) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %d, want %d", what, got, want)
	}
}

func isTrue(t *testing.T, what string, ok bool) {
	t.Helper()
	if !ok {
		t.Errorf("%s: false, want true", what)
	}
}

func nameAddr(t *testing.T, m *Message, h HeaderName) NameAddr {
	t.Helper()
	n, err := m.nameAddr(h)
	if err != nil {
		t.Fatalf("%v: %v", h, err)
	}
	return n
}

// nameAddrs parses every value of a list header.
func nameAddrs(t *testing.T, m *Message, h HeaderName) []NameAddr {
	t.Helper()
	var out []NameAddr
	for it := m.Values(h); ; {
		v, ok := it.Next()
		if !ok {
			return out
		}
		var n NameAddr
		if err := n.Parse(v); err != nil {
			t.Fatalf("%v %q: %v", h, v, err)
		}
		out = append(out, n)
	}
}

func vias(t *testing.T, m *Message) []Via {
	t.Helper()
	var out []Via
	for it := m.Values(HeaderVia); ; {
		v, ok := it.Next()
		if !ok {
			return out
		}
		var via Via
		if err := via.Parse(v); err != nil {
			t.Fatalf("Via %q: %v", v, err)
		}
		out = append(out, via)
	}
}

func values(m *Message, h HeaderName) []string {
	var out []string
	for it := m.Values(h); ; {
		v, ok := it.Next()
		if !ok {
			return out
		}
		out = append(out, string(v))
	}
}

func unescape(t *testing.T, b []byte) string {
	t.Helper()
	u, err := Unescape(nil, b)
	if err != nil {
		t.Fatalf("Unescape(%q): %v", b, err)
	}
	return string(u)
}

// unquote resolves the quoted-pairs of a quoted display name as NameAddr
// keeps it (RFC 3261 §25: quoted-pair = "\" any octet but CR and LF).
func unquote(b []byte) string {
	var s []byte
	for i := 0; i < len(b); i++ {
		if b[i] == '\\' && i+1 < len(b) {
			i++
		}
		s = append(s, b[i])
	}
	return string(s)
}

func cseq(t *testing.T, m *Message) CSeq {
	t.Helper()
	c, err := m.CSeq()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func parseRaw(t *testing.T, raw []byte) *Message {
	t.Helper()
	var m Message
	if err := Parse(&m, bytes.Clone(raw)); err != nil {
		t.Fatal(err)
	}
	return &m
}

// §3.1.1.1: folding, escaped quotes, empty Subject, LWS everywhere, mixed
// compact and long forms, leading zeros.
func checkWsinv(t *testing.T, m *Message, _ []byte) {
	ru := m.RequestURI()
	equalStr(t, "Request-URI user", ru.User, "vivekg")
	equalStr(t, "Request-URI host", ru.Host, "chair-dnrc.example.com")
	if v, ok := ru.Param("unknownparam"); !ok || v != nil {
		t.Errorf("Request-URI unknownparam = %q, %v; want present without value", v, ok)
	}

	to := nameAddr(t, m, HeaderTo) // "TO :" folded onto the next line
	equalStr(t, "To URI", to.URI.Raw, "sip:vivekg@chair-dnrc.example.com")
	equalStr(t, "To tag", to.Tag(), "1918181833n")
	isTrue(t, "To is an addr-spec", !to.Bracketed && to.DisplayName == nil)

	from := nameAddr(t, m, HeaderFrom)
	isTrue(t, "From display name quoted", from.Quoted)
	equalStr(t, "From display name", from.DisplayName, `J Rosenberg \\\"`)
	equalStr(t, "From display name unquoted", unquote(from.DisplayName), `J Rosenberg \"`)
	equalStr(t, "From URI", from.URI.Raw, "sip:jdrosen@example.com")
	equalStr(t, "From tag", from.Tag(), "98asjd8") // after a folded ';'

	mf, ok, err := m.MaxForwards()
	if err != nil || !ok || mf != 68 {
		t.Errorf("Max-Forwards = %d, %v, %v; want 68 from 0068", mf, ok, err)
	}
	equalStr(t, "Call-ID", m.CallID(), "wsinv.ndaksdj@192.0.2.1")
	c := cseq(t, m) // "0009" and "INVITE" on two lines
	if c.Seq != 9 || c.Method != MethodInvite {
		t.Errorf("CSeq = %d %v, want 9 INVITE", c.Seq, c.Method)
	}

	v := vias(t, m)
	if len(v) != 3 {
		t.Fatalf("%d Via values, want 3", len(v))
	}
	for i, want := range []struct{ transport, host, branch string }{
		{"UDP", "192.0.2.2", "390skdjuw"},
		{"TCP", "spindle.example.com", "z9hG4bK9ikj8"},
		{"UDP", "192.168.255.111", "z9hG4bK30239"},
	} {
		if string(v[i].ProtocolName) != "SIP" || string(v[i].ProtocolVersion) != "2.0" ||
			string(v[i].Transport) != want.transport || string(v[i].Host) != want.host ||
			string(v[i].Branch) != want.branch || v[i].Port != 0 {
			t.Errorf("Via %d = %s/%s/%s %s:%d branch %s, want SIP/2.0/%s %s branch %s", i,
				v[i].ProtocolName, v[i].ProtocolVersion, v[i].Transport, v[i].Host, v[i].Port, v[i].Branch,
				want.transport, want.host, want.branch)
		}
	}
	isTrue(t, "2543-style first branch", !v[0].IsRFC3261Branch() && v[1].IsRFC3261Branch() && v[2].IsRFC3261Branch())

	// "s :" is an empty Subject, present.
	if s := m.Get(HeaderSubject); !m.Has(HeaderSubject) || s == nil || len(s) != 0 {
		t.Errorf("Subject = %q (present %v), want present and empty", s, m.Has(HeaderSubject))
	}
	equalStr(t, "NewFangledHeader", m.GetName("newfangledheader"), "newfangled value   continued newfangled value")
	// Unknown, so kept whole though it would not parse as generic-params.
	equalStr(t, "UnknownHeaderWithUnusualValue", m.GetName("UnknownHeaderWithUnusualValue"), ";;,,;;,;")

	route := nameAddrs(t, m, HeaderRoute)
	if len(route) != 1 || !route[0].URI.LR() || !route[0].URI.HasParam("unknown-no-value") {
		t.Fatalf("Route %+v", route)
	}
	if v, _ := route[0].URI.Param("unknownwith"); string(v) != "value" {
		t.Errorf("Route unknownwith = %q", v)
	}

	contact := nameAddrs(t, m, HeaderContact)
	if len(contact) != 1 {
		t.Fatalf("%d Contact values", len(contact))
	}
	equalStr(t, "Contact display name unquoted", unquote(contact[0].DisplayName), `Quoted string ""`)
	equalStr(t, "Contact URI", contact[0].URI.Raw, "sip:jdrosen@example.com")
	if q, _ := contact[0].Params.Get("q"); string(q) != "0.33" {
		t.Errorf("Contact q = %q, want 0.33", q)
	}
	if v, _ := contact[0].Params.Get("newparam"); string(v) != "newvalue" {
		t.Errorf("Contact newparam = %q, want newvalue", v)
	}
	if v, ok := contact[0].Params.Get("secondparam"); !ok || v != nil {
		t.Errorf("Contact secondparam = %q, %v; want present without value", v, ok)
	}

	ct, err := m.ContentType()
	if err != nil || !ct.Is("application", "sdp") {
		t.Errorf("Content-Type %+v %v", ct, err)
	}
	equalInt(t, "Content-Length", m.ContentLength(), 150)
	equalInt(t, "body length", len(m.Body()), 150)
	// Unusual case in names, long and compact forms of the same field.
	f := m.Fields()
	equalStr(t, "first field name", f[0].RawName, "TO")
	isTrue(t, "MaX-fOrWaRdS known", f[2].Name == HeaderMaxForwards)
	equalInt(t, "fields", len(f), 14)
}

// §3.1.1.2: token characters in the method, odd URI, quoted-pairs of
// control characters, UTF-8 values.
func checkIntmeth(t *testing.T, m *Message, _ []byte) {
	const method = "!interesting-Method0123456789_*+`.%indeed'~"
	equalStr(t, "method", m.MethodName(), method)
	isTrue(t, "extension method", m.Method() == MethodOther)
	ru := m.RequestURI()
	equalStr(t, "Request-URI user", ru.User, "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
	equalStr(t, "Request-URI password", ru.Password, "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)")
	equalStr(t, "Request-URI host", ru.Host, "example.com")

	via, err := m.TopVia()
	if err != nil {
		t.Fatal(err)
	}
	equalStr(t, "branch", via.Branch, "z9hG4bK-.!%66*_+`'~")

	to := nameAddr(t, m, HeaderTo)
	isTrue(t, "To quoted", to.Quoted)
	equalStr(t, "To display name", to.DisplayName, "BEL:\\\x07 NUL:\\\x00 DEL:\\\x7f")
	equalStr(t, "To display name unquoted", unquote(to.DisplayName), "BEL:\x07 NUL:\x00 DEL:\x7f")
	equalStr(t, "To user", to.URI.User, "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
	isTrue(t, "To has no password", to.URI.Password == nil)

	from := nameAddr(t, m, HeaderFrom)
	isTrue(t, "From display name is tokens", !from.Quoted)
	equalStr(t, "From display name", from.DisplayName, "token1~` token2'+_ token3*%!.-")
	v, _ := from.Params.Get("fromParam''~+*_!.-%")
	equalStr(t, "From fromParam", v, "\"\u0440\u0430\u0431\u043e\u0442\u0430\u044e\u0449\u0438\u0439\"")
	equalStr(t, "From tag", from.Tag(), "_token~1'+`*%!-.")

	equalStr(t, "Call-ID", m.CallID(), `intmeth.word%ZK-!.*_+'@word`+"`"+`~)(><:\/"][?}{`)
	c := cseq(t, m)
	if c.Seq != 139122385 || c.Method != MethodOther || string(c.MethodName) != method {
		t.Errorf("CSeq = %d %q", c.Seq, c.MethodName)
	}
	if mf, _, _ := m.MaxForwards(); mf != 255 {
		t.Errorf("Max-Forwards = %d, want 255", mf)
	}
	equalStr(t, "extension header", m.GetName("extensionheader-!.%*+_`'~"), "\xef\xbb\xbf\u5927\u505c\u96fb")
	equalInt(t, "Content-Length", m.ContentLength(), 0)
}

// §3.1.1.3: %HEX HEX in user parts and URI parameters.
func checkEsc01(t *testing.T, m *Message, _ []byte) {
	ru := m.RequestURI()
	equalStr(t, "Request-URI user", unescape(t, ru.User), "sips:user@example.com")
	equalStr(t, "Request-URI host", ru.Host, "example.net")
	to := nameAddr(t, m, HeaderTo)
	equalStr(t, "To user", unescape(t, to.URI.User), "user")
	var plain URI
	if err := plain.Parse([]byte("sip:user@example.com")); err != nil || !to.URI.Equal(&plain) {
		t.Errorf("To URI %s not equal to sip:user@example.com (RFC 3261 §19.1.4)", to.URI.Raw)
	}
	from := nameAddr(t, m, HeaderFrom)
	equalStr(t, "From user", unescape(t, from.URI.User), "I have spaces")
	equalStr(t, "From tag", from.Tag(), "938")
	equalStr(t, "Call-ID (i)", m.CallID(), "esc01.239409asdfakjkn23onasd0-3234")
	ct, err := m.ContentType() // "C:"
	if err != nil || !ct.Is("application", "sdp") {
		t.Errorf("Content-Type %+v %v", ct, err)
	}
	contact := nameAddrs(t, m, HeaderContact)
	if len(contact) != 1 {
		t.Fatalf("%d Contact values", len(contact))
	}
	cu := &contact[0].URI
	equalStr(t, "Contact user", unescape(t, cu.User), "caller")
	isTrue(t, "Contact %6C%72 is lr", cu.LR())
	name, _ := cu.Param("name")
	equalStr(t, "Contact name unescaped once", unescape(t, name), "value%41")
	// Escapes are undone once: "value%41" is not "valueA" (RFC 3986).
	for s, want := range map[string]bool{
		"sip:caller@host5.example.net;lr;name=value%2541": true,
		"sip:caller@host5.example.net;lr;name=valueA":     false,
	} {
		var u URI
		if err := u.Parse([]byte(s)); err != nil {
			t.Fatal(err)
		}
		if got := cu.Equal(&u); got != want {
			t.Errorf("Contact URI equal to %s: %v, want %v", s, got, want)
		}
	}
	equalInt(t, "body length", len(m.Body()), 150)
}

// §3.1.1.4: %00 in user parts must not shorten them.
func checkEscnull(t *testing.T, m *Message, _ []byte) {
	to := nameAddr(t, m, HeaderTo)
	equalStr(t, "To user", unescape(t, to.URI.User), "null-\x00-null")
	from := nameAddr(t, m, HeaderFrom)
	equalStr(t, "From user", unescape(t, from.URI.User), "null-\x00-null")
	equalStr(t, "From tag", from.Tag(), "839923423")
	contact := nameAddrs(t, m, HeaderContact)
	if len(contact) != 2 {
		t.Fatalf("%d Contact values, want 2", len(contact))
	}
	equalStr(t, "Contact 1 user", unescape(t, contact[0].URI.User), "\x00")
	equalStr(t, "Contact 2 user", unescape(t, contact[1].URI.User), "\x00\x00")
	isTrue(t, "two distinct contacts", !contact[0].URI.Equal(&contact[1].URI))
	equalInt(t, "Content-Length (L)", m.ContentLength(), 0)
}

// §3.1.1.5: '%' outside URIs is not an escape.
func checkEsc02(t *testing.T, m *Message, _ []byte) {
	equalStr(t, "method", m.MethodName(), "RE%47IST%45R")
	isTrue(t, "RE%47IST%45R is an extension method, not REGISTER", m.Method() == MethodOther)
	// Methods are case-sensitive (RFC 3261 §7.1, §20.16).
	isTrue(t, "only REGISTER is REGISTER", LookupMethod([]byte("REGISTER")) == MethodRegister &&
		LookupMethod([]byte("register")) == MethodOther && LookupMethod([]byte("Register")) == MethodOther)
	c := cseq(t, m)
	if c.Seq != 29344 || c.Method != MethodOther || string(c.MethodName) != "RE%47IST%45R" {
		t.Errorf("CSeq = %d %q", c.Seq, c.MethodName)
	}
	to := nameAddr(t, m, HeaderTo)
	isTrue(t, "To quoted", to.Quoted)
	equalStr(t, "To display name", to.DisplayName, "%Z%45")
	from := nameAddr(t, m, HeaderFrom)
	equalStr(t, "From display name", from.DisplayName, "%Z%45")
	equalStr(t, "From tag", from.Tag(), "f232jadfj23")
	via, _ := m.TopVia()
	equalStr(t, "branch", via.Branch, "z9hG4bK209%fzsnel234")

	contact := nameAddrs(t, m, HeaderContact)
	if len(contact) != 2 {
		t.Fatalf("%d Contact values, want 2", len(contact))
	}
	equalStr(t, "Contact 1", contact[0].URI.Raw, "sip:alias1@host1.example.com")
	equalStr(t, "Contact 2", contact[1].URI.Raw, "sip:alias3@host3.example.com")
	equalStr(t, "C%6Fntact", m.GetName("c%6fntact"), "<sip:alias2@host2.example.com>")
	for _, f := range m.Fields() {
		if string(f.RawName) == "C%6Fntact" && f.Name != HeaderOther {
			t.Errorf("C%%6Fntact read as %v, want an unknown header", f.Name)
		}
	}
}

// §3.1.1.6: no LWS between a token display name and '<'.
func checkLwsdisp(t *testing.T, m *Message, _ []byte) {
	from := nameAddr(t, m, HeaderFrom)
	equalStr(t, "From display name", from.DisplayName, "caller")
	isTrue(t, "From name-addr", !from.Quoted && from.Bracketed)
	equalStr(t, "From URI", from.URI.Raw, "sip:caller@example.com")
	equalStr(t, "From tag", from.Tag(), "323")
}

// §3.1.1.7: long values, many Via values.
func checkLongreq(t *testing.T, m *Message, _ []byte) {
	r := strings.Repeat
	to := nameAddr(t, m, HeaderTo)
	equalStr(t, "To display name", to.DisplayName, "I have a user name of "+r("extreme", 10)+" proportion")
	equalInt(t, "To port", to.URI.Port, 6000)
	v, _ := to.URI.Param("unknownparam1")
	equalStr(t, "To unknownparam1", v, "very"+r("long", 20)+"value")
	v, _ = to.URI.Param("longparam" + r("name", 25))
	equalStr(t, "To longparam...", v, "shortvalue")
	isTrue(t, "To valueless param", to.URI.HasParam("very"+r("long", 25)+"ParameterNameWithNoValue"))

	from := nameAddr(t, m, HeaderFrom) // "F:"
	equalStr(t, "From user", from.URI.User, r("amazinglylongcallername", 5))
	equalStr(t, "From tag", from.Tag(), "12"+r("982", 50)+"424")
	v, _ = from.Params.Get("unknownheaderparam" + r("name", 20))
	equalStr(t, "From unknownheaderparam...", v, "unknowheaderparam"+r("value", 15))
	isTrue(t, "From valueless param", from.Params.Has("unknownValueless"+r("paramname", 10)))

	equalStr(t, "Call-ID", m.CallID(), "longreq.one"+r("really", 20)+"longcallid")
	long := r("long", 20)
	equalStr(t, "unknown header", m.GetName("Unknown-"+r("Long", 20)+"-Name"),
		"unknown-"+long+"-value; unknown-"+long+"-parameter-name = unknown-"+long+"-parameter-value")

	vs := vias(t, m)
	equalInt(t, "Via values", len(vs), 34)
	equalInt(t, "Count(Via)", m.Count(HeaderVia), 34)
	if len(vs) == 34 {
		for i := 0; i < 33; i++ {
			equalStr(t, fmt.Sprintf("Via %d host", i), vs[i].Host, fmt.Sprintf("sip%d.example.com", 33-i))
		}
		equalStr(t, "last Via received", vs[33].Received, "192.0.2.5")
		equalStr(t, "last Via branch", vs[33].Branch, "very"+r("long", 50)+"branchvalue")
	}
	contact := nameAddrs(t, m, HeaderContact)
	if len(contact) != 1 || string(contact[0].URI.User) != r("amazinglylongcallername", 5) {
		t.Errorf("Contact %+v", contact)
	}
	equalInt(t, "Content-Length (l)", m.ContentLength(), 150)
	equalInt(t, "body length", len(m.Body()), 150)
}

// §3.1.1.8: octets after Content-Length in a datagram are not part of the
// message (RFC 3261 §18.3).
func checkDblreq(t *testing.T, m *Message, raw []byte) {
	isTrue(t, "REGISTER", m.Method() == MethodRegister)
	equalInt(t, "Content-Length", m.ContentLength(), 0)
	if m.Body() != nil {
		t.Errorf("body %q, want none", m.Body())
	}
	if bytes.Contains(m.Bytes(), []byte("INVITE")) || !bytes.HasSuffix(m.Bytes(), []byte("Content-Length: 0\r\n\r\n")) {
		t.Errorf("message bytes include the trailing request:\n%s", m.Bytes())
	}
	equalStr(t, "Call-ID (I)", m.CallID(), "dblreq.0ha0isndaksdj99sdfafnl3lk233412")
	contact := nameAddrs(t, m, HeaderContact)
	if len(contact) != 1 || string(contact[0].URI.Raw) != "sip:j.user@host.example.com" {
		t.Errorf("Contact %+v", contact)
	}
	// On a stream the same bytes are two messages, framed one at a time.
	var p Parser
	n, err := p.Frame(raw)
	if err != nil || n != len(m.Bytes()) {
		t.Errorf("Frame = %d, %v; want %d", n, err, len(m.Bytes()))
	}
	// The CRLF between them is skipped as RFC 3261 §7.5 allows.
	k, err := p.Frame(raw[n:])
	if err != nil || !IsKeepAlive(raw[n:n+k]) {
		t.Fatalf("Frame after the REGISTER = %d, %v; want a run of CRLF", k, err)
	}
	var next Message
	if err := Parse(&next, bytes.Clone(raw[n+k:])); err != nil || next.Method() != MethodInvite ||
		string(next.RequestURI().Raw) != "sip:joe@example.com" || len(next.Body()) != 150 {
		t.Errorf("trailing request: %v %q", err, next.MethodName())
	}
}

// §3.1.1.9: ';' in the user part of a Request-URI.
func checkSemiuri(t *testing.T, m *Message, _ []byte) {
	ru := m.RequestURI()
	equalStr(t, "Request-URI user", ru.User, "user;par=u%40example.net")
	equalStr(t, "Request-URI user unescaped", unescape(t, ru.User), "user;par=u@example.net")
	equalStr(t, "Request-URI host", ru.Host, "example.com")
	isTrue(t, "no uri-parameters", ru.Params == nil)
	accept := values(m, HeaderAccept) // folded over three lines
	want := []string{"application/sdp", "application/pkcs7-mime", "multipart/mixed", "multipart/signed", "message/sip", "message/sipfrag"}
	if fmt.Sprint(accept) != fmt.Sprint(want) {
		t.Errorf("Accept = %q, want %q", accept, want)
	}
}

// §3.1.1.10: every transport, known or not.
func checkTransports(t *testing.T, m *Message, _ []byte) {
	vs := vias(t, m)
	want := []string{"UDP", "SCTP", "TLS", "UNKNOWN", "TCP"}
	if len(vs) != len(want) {
		t.Fatalf("%d Via values", len(vs))
	}
	for i, tr := range want {
		equalStr(t, fmt.Sprintf("Via %d transport", i), vs[i].Transport, tr)
		equalStr(t, fmt.Sprintf("Via %d host", i), vs[i].Host, fmt.Sprintf("t%d.example.com", i+1))
	}
	equalStr(t, "Call-ID", m.CallID(), "transports.kijh4akdnaqjkwendsasfdj")
}

// §3.1.1.11: a binary body framed by Content-Length.
func checkMpart01(t *testing.T, m *Message, raw []byte) {
	equalInt(t, "Content-Length", m.ContentLength(), 553)
	equalInt(t, "body length", len(m.Body()), 553)
	body := m.Body()
	if bytes.IndexByte(body, 0) < 0 {
		t.Error("binary part lost its NUL bytes")
	}
	if !bytes.HasPrefix(body, []byte("--7a9cbec02ceef655\r\n")) || !bytes.HasSuffix(body, []byte("--7a9cbec02ceef655--\r\n")) {
		t.Errorf("body does not run from the first to the last boundary")
	}
	equalInt(t, "body ends the datagram", len(raw)-len(m.Bytes()), 0)
	ct, err := m.ContentType()
	if err != nil || !ct.Is("multipart", "mixed") {
		t.Fatalf("Content-Type %+v %v", ct, err)
	}
	b, _ := ct.Params.Get("boundary")
	equalStr(t, "boundary", b, "7a9cbec02ceef655")
	via, err := m.TopVia()
	if err != nil || string(via.Host) != "127.0.0.1" || via.Port != 5070 || !via.HasRPort || via.RPort != 0 ||
		string(via.Branch) != "z9hG4bK-d87543-4dade06d0bdb11ee-1--d87543-" {
		t.Errorf("Via %+v %v", via, err)
	}
	d, err := m.Date()
	if err != nil || !d.Equal(time.Date(2005, 10, 15, 4, 44, 56, 0, time.UTC)) {
		t.Errorf("Date = %v, %v", d, err)
	}
	// RFC 3581 §4: the server fills in rport and received; the value reads
	// back as a port.
	m2 := parseRaw(t, bytes.Replace(raw, []byte(";rport"), []byte(";rport=5071;received=192.0.2.7"), 1))
	via, err = m2.TopVia()
	if err != nil || !via.HasRPort || via.RPort != 5071 || string(via.Received) != "192.0.2.7" {
		t.Errorf("Via with rport=5071: %+v %v", via, err)
	}
	for _, bad := range []string{";rport=", ";rport=65536", ";rport=x", ";rport;rport=5"} {
		m2 := parseRaw(t, bytes.Replace(raw, []byte(";rport"), []byte(bad), 1))
		if _, err := m2.TopVia(); !errors.Is(err, ErrBadHeader) {
			t.Errorf("Via with %s: %v, want ErrBadHeader", bad, err)
		}
	}
}

// §3.1.1.12: a reason phrase of punctuation and UTF-8.
func checkUnreason(t *testing.T, m *Message, _ []byte) {
	equalInt(t, "status", m.StatusCode(), 200)
	equalStr(t, "reason", m.Reason(), "= 2**3 * 5**2 \u043d\u043e \u0441\u0442\u043e \u0434\u0435\u0432\u044f\u043d\u043e\u0441\u0442\u043e "+
		"\u0434\u0435\u0432\u044f\u0442\u044c - \u043f\u0440\u043e\u0441\u0442\u043e\u0435")
	equalInt(t, "body length", len(m.Body()), 154)
}

// §3.1.1.13: "SIP/2.0 100 " with no reason text.
func checkNoreason(t *testing.T, m *Message, _ []byte) {
	equalInt(t, "status", m.StatusCode(), 100)
	equalInt(t, "reason length", len(m.Reason()), 0)
	c := cseq(t, m)
	if c.Seq != 35 || c.Method != MethodInvite {
		t.Errorf("CSeq %+v", c)
	}
}

// §3.1.2.1: both the Via and the Contact are faulty. A single trailing
// separator is as extraneous as several: each SEMI must come with a
// parameter (RFC 3261 §25).
func checkBadinv01(t *testing.T, m *Message, raw []byte) {
	var n NameAddr
	if err := n.Parse(m.Get(HeaderContact)); !errors.Is(err, ErrBadHeader) {
		t.Errorf("Contact %q: %v, want ErrBadHeader", m.Get(HeaderContact), err)
	}
	fixed := bytes.Replace(raw, []byte("192.0.2.15;;,;,,"), []byte("192.0.2.15;branch=z9hG4bK1"), 1)
	fixed = bytes.Replace(fixed, []byte("<sip:joe@example.org>;;;;"), []byte("<sip:joe@example.org>"), 1)
	if err := parseRaw(t, fixed).Validate(); err != nil {
		t.Fatalf("with both fields fixed: %v", err)
	}
	for _, tt := range []struct{ from, to, where string }{
		{"192.0.2.15;branch=z9hG4bK1", "192.0.2.15;", "in Via"},
		{"z9hG4bK1", "z9hG4bK1;", "in Via"},
		{"z9hG4bK1", "z9hG4bK1 ; ", "in Via"},
		{"192.0.2.15;branch=z9hG4bK1", "192.0.2.15;branch=z9hG4bK1,", "in Via"},
		{"<sip:joe@example.org>", "<sip:joe@example.org>;", "in Contact"},
		{"application/sdp", "application/sdp;", "in Content-Type"},
		{"tag=134161461246", "tag=134161461246;", "in From"},
	} {
		err := parseRaw(t, bytes.Replace(fixed, []byte(tt.from), []byte(tt.to), 1)).Validate()
		if !errors.Is(err, ErrBadHeader) || !strings.Contains(err.Error(), tt.where) {
			t.Errorf("%q: %v, want ErrBadHeader %s", tt.to, err, tt.where)
		}
	}
}

// §3.1.2.2: on a stream the receiver waits for the rest of the body.
func checkClerr(t *testing.T, _ *Message, raw []byte) {
	var p Parser
	var m Message
	if err := p.ParseStream(&m, bytes.Clone(raw)); !errors.Is(err, ErrIncomplete) {
		t.Errorf("ParseStream: %v, want ErrIncomplete", err)
	}
	if n, err := p.Frame(raw); err != nil || n <= len(raw) {
		t.Errorf("Frame = %d, %v; want more than the %d bytes at hand", n, err, len(raw))
	}
}

// §3.1.2.3: a negative length cannot frame a stream.
func checkNcl(t *testing.T, _ *Message, raw []byte) {
	var p Parser
	if _, err := p.Frame(raw); !errors.Is(err, ErrContentLength) {
		t.Errorf("Frame: %v, want ErrContentLength", err)
	}
	var m Message
	if err := Parse(&m, bytes.Replace(bytes.Clone(raw), []byte("-999"), []byte("five"), 1)); !errors.Is(err, ErrContentLength) {
		t.Errorf("Content-Length: five: %v, want ErrContentLength", err)
	}
}

// §3.1.2.4: every overlarge scalar is caught by its own accessor.
func checkScalar02(t *testing.T, m *Message, _ []byte) {
	if _, _, err := m.MaxForwards(); !errors.Is(err, ErrBadHeader) {
		t.Errorf("Max-Forwards 300: %v", err)
	}
	if _, _, err := m.Expires(); !errors.Is(err, ErrBadHeader) {
		t.Errorf("Expires 10^100: %v", err)
	}
	contact := nameAddrs(t, m, HeaderContact)
	if len(contact) != 1 {
		t.Fatalf("%d Contact values", len(contact))
	}
	if v, ok := contact[0].Expires(); ok {
		t.Errorf("Contact expires = %d, want rejected", v)
	}
}

// §3.1.2.5: CSeq, Retry-After and Warning are all wrong; with the CSeq
// and Retry-After fixed, Validate finds the Warning.
func checkScalarlg(t *testing.T, m *Message, raw []byte) {
	if _, _, err := m.RetryAfter(); !errors.Is(err, ErrBadHeader) {
		t.Errorf("Retry-After: %v", err)
	}
	fixed := bytes.Replace(raw, []byte("9292394834772304023312"), []byte("1"), 1)
	fixed = bytes.Replace(fixed, []byte("949302838503028349304023988"), []byte("10"), 1)
	m2 := parseRaw(t, fixed)
	if err := m2.Validate(); !errors.Is(err, ErrBadHeader) || !strings.Contains(err.Error(), "warn-code in Warning") {
		t.Errorf("Validate with only the Warning wrong: %v", err)
	}
}

// §3.1.2.6: the To accessor rejects it too.
func checkQuotbal(t *testing.T, m *Message, _ []byte) {
	if _, err := m.To(); !errors.Is(err, ErrBadHeader) {
		t.Errorf("To: %v", err)
	}
}

// §3.1.2.12: valid but for the Date, which only Date() reads.
func checkBaddate(t *testing.T, m *Message, _ []byte) {
	equalStr(t, "Date", m.Get(HeaderDate), "Fri, 01 Jan 2010 16:00:00 EST")
	for _, zone := range []string{"UT", "UTC", "UCT"} {
		m2 := parseRaw(t, bytes.Replace(m.Bytes(), []byte("00 EST"), []byte("00 "+zone), 1))
		if _, err := m2.Date(); !errors.Is(err, ErrBadHeader) {
			t.Errorf("Date in %s: %v, want ErrBadHeader", zone, err)
		}
	}
}

// §3.1.2.15: the archive's copy ends without the empty line; with it the
// display names are what Validate rejects.
func checkBaddn(t *testing.T, _ *Message, raw []byte) {
	m := parseRaw(t, append(bytes.Clone(raw), "\r\n"...))
	err := m.Validate()
	if !errors.Is(err, ErrBadHeader) || !strings.Contains(err.Error(), "bad display name in To") {
		t.Errorf("Validate: %v, want a bad display name in To", err)
	}
	if _, err := m.From(); !errors.Is(err, ErrBadHeader) {
		t.Errorf("From: %v", err)
	}
}

// §3.1.2.18: the method is unknown, which is what lets a UAS that looks at
// the method first answer 501.
func checkMismatch02(t *testing.T, m *Message, _ []byte) {
	equalStr(t, "method", m.MethodName(), "NEWMETHOD")
	isTrue(t, "extension method", m.Method() == MethodOther)
	isTrue(t, "CSeq INVITE", cseq(t, m).Method == MethodInvite)
}

// §3.2.1: a bare magic cookie is no transaction identifier.
func checkBadbranch(t *testing.T, m *Message, _ []byte) {
	via, err := m.TopVia()
	if err != nil {
		t.Fatal(err)
	}
	equalStr(t, "branch", via.Branch, "z9hG4bK")
	isTrue(t, "not an RFC 3261 branch", !via.IsRFC3261Branch())
}

// §3.3.1: no To, From or Call-ID (nor Max-Forwards).
func checkInsuf(t *testing.T, m *Message, _ []byte) {
	for _, h := range []HeaderName{HeaderTo, HeaderFrom, HeaderCallID, HeaderMaxForwards} {
		if m.Has(h) {
			t.Errorf("%v present", h)
		}
	}
	if _, err := m.From(); !errors.Is(err, ErrNotFound) {
		t.Errorf("From: %v, want ErrNotFound", err)
	}
	equalInt(t, "body length", len(m.Body()), 152)
}

// §3.3.2: Request-URI of an unknown scheme, kept opaque.
func checkUnkscm(t *testing.T, m *Message, _ []byte) {
	ru := m.RequestURI()
	isTrue(t, "scheme unknown (416)", ru.Scheme == SchemeOther)
	equalStr(t, "scheme", ru.SchemeRaw, "nobodyKnowsThisScheme")
	equalStr(t, "opaque", ru.Opaque, "totallyopaquecontent")
	// The To field looks routable but is not where routing comes from.
	isTrue(t, "To is SIP", nameAddr(t, m, HeaderTo).URI.Scheme == SchemeSIP)
}

// §3.3.3: a registered scheme that is no SIP URI.
func checkNovelsc(t *testing.T, m *Message, _ []byte) {
	ru := m.RequestURI()
	isTrue(t, "scheme unknown to SIP (416)", ru.Scheme == SchemeOther)
	equalStr(t, "scheme", ru.SchemeRaw, "soap.beep")
	equalStr(t, "opaque", ru.Opaque, "//192.0.2.103:3002")
}

// §3.3.4: other schemes in To, From and Contact parse.
func checkUnksm2(t *testing.T, m *Message, _ []byte) {
	to := nameAddr(t, m, HeaderTo)
	if to.URI.Scheme != SchemeOther || string(to.URI.SchemeRaw) != "isbn" || string(to.URI.Opaque) != "2983792873" {
		t.Errorf("To %q", to.URI.Raw)
	}
	isTrue(t, "To is no SIP or SIPS AOR (registrar: 400)", to.URI.Scheme != SchemeSIP && to.URI.Scheme != SchemeSIPS)
	from := nameAddr(t, m, HeaderFrom)
	if string(from.URI.SchemeRaw) != "http" || string(from.URI.Opaque) != "//www.example.com" || string(from.Tag()) != "3234233" {
		t.Errorf("From %q tag %q", from.URI.Raw, from.Tag())
	}
	contact := nameAddrs(t, m, HeaderContact)
	if len(contact) != 1 || string(contact[0].URI.SchemeRaw) != "name" || string(contact[0].URI.Opaque) != "John_Smith" {
		t.Errorf("Contact %+v", contact)
	}
}

// §3.3.5: a UAS answers 420 listing the Require tags it does not support
// in Unsupported (RFC 3261 §8.2.2.3); a proxy does the same for
// Proxy-Require.
func checkBext01(t *testing.T, m *Message, _ []byte) {
	supported := []string{"100rel", "replaces", "norefersub", "tdialog"}
	unsupported := func(h HeaderName) []string {
		var out []string
		for _, tag := range values(m, h) {
			known := false
			for _, s := range supported {
				known = known || strings.EqualFold(s, tag)
			}
			if !known {
				out = append(out, tag)
			}
		}
		return out
	}
	uas, proxy := unsupported(HeaderRequire), unsupported(HeaderProxyRequire)
	if fmt.Sprint(uas) != "[nothingSupportsThis nothingSupportsThisEither]" {
		t.Errorf("unsupported Require tags %q", uas)
	}
	if fmt.Sprint(proxy) != "[noProxiesSupportThis norDoAnyProxiesSupportThis]" {
		t.Errorf("unsupported Proxy-Require tags %q", proxy)
	}
	// Option tags compare case-insensitively (RFC 3261 §19.2).
	isTrue(t, "HasToken(Require)", m.HasToken(HeaderRequire, "NOTHINGSUPPORTSTHIS"))
	isTrue(t, "HasToken(Proxy-Require)", m.HasToken(HeaderProxyRequire, "norDoAnyProxiesSupportThis"))

	b := AppendResponse(nil, m, 420, "", "uas1")
	b = AppendHeader(b, HeaderUnsupported, strings.Join(uas, ", "))
	b = AppendNoBody(b)
	resp := parseRaw(t, b)
	if err := resp.Validate(); err != nil {
		t.Fatal(err)
	}
	equalInt(t, "response", resp.StatusCode(), 420)
	equalStr(t, "reason", resp.Reason(), "Bad Extension")
	isTrue(t, "Unsupported lists both", resp.HasToken(HeaderUnsupported, "nothingSupportsThis") &&
		resp.HasToken(HeaderUnsupported, "nothingSupportsThisEither") && resp.Count(HeaderUnsupported) == 2)
	to, _ := resp.To()
	equalStr(t, "response To tag", to.Tag(), "uas1")
}

// §3.3.6: an endpoint answers 415 to a body type it does not know.
func checkInvut(t *testing.T, m *Message, _ []byte) {
	ct, err := m.ContentType()
	if err != nil {
		t.Fatal(err)
	}
	equalStr(t, "Content-Type", string(ct.Type)+"/"+string(ct.Subtype), "application/unknownformat")
	isTrue(t, "not SDP (415)", !ct.Is("application", "sdp"))
	equalInt(t, "body length", len(m.Body()), 40)
	isTrue(t, "body", bytes.HasPrefix(m.Body(), []byte("<audio>\r\n")))
}

// §3.3.7: an Authorization of an unknown scheme, kept as written.
func checkRegaut01(t *testing.T, m *Message, _ []byte) {
	isTrue(t, "REGISTER", m.Method() == MethodRegister)
	auth := m.Get(HeaderAuthorization)
	equalStr(t, "Authorization", auth, "NoOneKnowsThisScheme opaque-data=here")
	scheme, _, _ := bytes.Cut(auth, []byte(" "))
	isTrue(t, "scheme is not Digest (401)", !strings.EqualFold(string(scheme), "Digest"))
	equalInt(t, "Content-Length", m.ContentLength(), 0)
}

// §3.3.8: two of each single-valued field.
func checkMulti01(t *testing.T, m *Message, _ []byte) {
	for _, h := range []HeaderName{HeaderCallID, HeaderTo, HeaderFrom, HeaderMaxForwards, HeaderCSeq} {
		equalInt(t, h.String()+" fields", m.Count(h), 2)
	}
	equalInt(t, "Contact values", m.Count(HeaderContact), 2)
}

// §3.3.9: conflicting lengths cannot frame a stream either.
func checkMcl01(t *testing.T, _ *Message, raw []byte) {
	var p Parser
	if _, err := p.Frame(raw); !errors.Is(err, ErrContentLength) {
		t.Errorf("Frame: %v, want ErrContentLength", err)
	}
}

// §3.3.10: the second Via's sent-by is the broadcast address.
func checkBcast(t *testing.T, m *Message, _ []byte) {
	vs := vias(t, m)
	if len(vs) != 2 {
		t.Fatalf("%d Via values", len(vs))
	}
	equalStr(t, "second Via host", vs[1].Host, "255.255.255.255")
	isTrue(t, "no maddr", vs[1].Maddr == nil)
	equalStr(t, "second Via branch", vs[1].Branch, "z9hG4bK1saber23")
	equalInt(t, "status", m.StatusCode(), 200)
}

// §3.3.11: Max-Forwards 0 is legal.
func checkZeromf(t *testing.T, m *Message, _ []byte) {
	mf, ok, err := m.MaxForwards()
	if err != nil || !ok || mf != 0 {
		t.Errorf("Max-Forwards = %d, %v, %v; want present and 0", mf, ok, err)
	}
}

// §3.3.12: unbracketed, ";unknownparam" is a contact-param.
func checkCparam01(t *testing.T, m *Message, _ []byte) {
	c := nameAddrs(t, m, HeaderContact)
	if len(c) != 1 {
		t.Fatalf("%d Contact values", len(c))
	}
	isTrue(t, "addr-spec", !c[0].Bracketed)
	equalStr(t, "Contact URI", c[0].URI.Raw, "sip:+19725552222@gw1.example.net")
	isTrue(t, "not a uri-parameter", !c[0].URI.HasParam("unknownparam"))
	isTrue(t, "a contact-param", c[0].Params.Has("unknownparam"))
}

// §3.3.13: inside <>, ";unknownparam" is a uri-parameter.
func checkCparam02(t *testing.T, m *Message, _ []byte) {
	c := nameAddrs(t, m, HeaderContact)
	if len(c) != 1 {
		t.Fatalf("%d Contact values", len(c))
	}
	isTrue(t, "name-addr", c[0].Bracketed)
	isTrue(t, "a uri-parameter", c[0].URI.HasParam("unknownparam"))
	isTrue(t, "not a contact-param", !c[0].Params.Has("unknownparam"))
}

// §3.3.14: an escaped Route header inside a bracketed Contact URI.
func checkRegescrt(t *testing.T, m *Message, _ []byte) {
	c := nameAddrs(t, m, HeaderContact) // "M:"
	if len(c) != 1 {
		t.Fatalf("%d Contact values", len(c))
	}
	v, ok := c[0].URI.Header("Route")
	if !ok {
		t.Fatal("no Route header in the Contact URI")
	}
	equalStr(t, "Route", v, "%3Csip:sip.example.com%3E")
	equalStr(t, "Route unescaped", unescape(t, v), "<sip:sip.example.com>")
	equalInt(t, "Content-Length (L)", m.ContentLength(), 0)
}

// §3.3.15: Accept names no type the UAS can answer with.
func checkSdp01(t *testing.T, m *Message, _ []byte) {
	accept := values(m, HeaderAccept)
	if fmt.Sprint(accept) != "[text/nobodyKnowsThis]" {
		t.Errorf("Accept = %q", accept)
	}
	ct, err := m.ContentType()
	if err != nil || !ct.Is("application", "sdp") {
		t.Errorf("Content-Type %+v %v", ct, err)
	}
}

// §3.4.1: RFC 2543 syntax: no branch, no From tag, no Max-Forwards, no
// Content-Length.
func checkInv2543(t *testing.T, m *Message, raw []byte) {
	via, err := m.TopVia()
	if err != nil {
		t.Fatal(err)
	}
	isTrue(t, "no branch", via.Branch == nil && !via.IsRFC3261Branch())
	if from := nameAddr(t, m, HeaderFrom); from.Tag() != nil {
		t.Errorf("From tag %q", from.Tag())
	}
	if _, ok, err := m.MaxForwards(); ok || err != nil {
		t.Errorf("Max-Forwards present %v, %v", ok, err)
	}
	equalInt(t, "Content-Length", m.ContentLength(), -1)
	// Without Content-Length the body is the rest of the datagram.
	equalInt(t, "body length", len(m.Body()), len(raw)-bytes.Index(raw, []byte("\r\n\r\n"))-4)
	isTrue(t, "body", bytes.HasSuffix(m.Body(), []byte("m=audio 49217 RTP/AVP 0\r\n")))
	// Unbracketed, ";user=phone" belongs to the To field, not its URI.
	to := nameAddr(t, m, HeaderTo)
	isTrue(t, "To user=phone is a header parameter", !to.URI.HasParam("user") && to.Params.Has("user"))
	rr := nameAddrs(t, m, HeaderRecordRoute)
	if len(rr) != 1 || string(rr[0].URI.Maddr()) != "ss1.example.com" {
		t.Errorf("Record-Route %+v", rr)
	}
}

// Odd input is no reason to allocate: every message the stack accepts
// parses, validates and yields its typed fields without allocating, into a
// reused Message and into one on the stack (for those of up to 32 fields,
// which a Message holds inline).
func TestTortureZeroAllocs(t *testing.T) {
	var reused Message
	for _, tc := range tortureCases {
		if tc.step == "Parse" || tc.step == "Validate" {
			continue
		}
		buf, err := os.ReadFile(filepath.Join(tortureDir, tc.file))
		if err != nil {
			t.Fatal(err)
		}
		read := func(m *Message) {
			if err := Parse(m, buf); err != nil {
				t.Fatalf("%s: %v", tc.file, err)
			}
			if err := m.Validate(); err != nil {
				t.Fatalf("%s: %v", tc.file, err)
			}
			_, _ = m.TopVia()
			_, _ = m.CSeq()
			_, _ = m.From()
			_, _ = m.To()
			_, _, _ = m.MaxForwards()
			for it := m.Values(HeaderContact); ; {
				v, ok := it.Next()
				if !ok {
					break
				}
				var n NameAddr
				_ = n.Parse(v)
			}
		}
		if n := testing.AllocsPerRun(20, func() { read(&reused) }); n != 0 {
			t.Errorf("%s: %v allocations into a reused Message", tc.file, n)
		}
		if len(reused.Fields()) > inlineFields {
			continue
		}
		if n := testing.AllocsPerRun(20, func() {
			var m Message
			read(&m)
		}); n != 0 {
			t.Errorf("%s: %v allocations into a Message on the stack", tc.file, n)
		}
	}
}

// test.dat: with SIP-Version added to its request line, the header line
// without a colon is the next fault; without that line, the message parses
// but lacks CSeq and Via, and its To is no URI.
func checkTest(t *testing.T, _ *Message, raw []byte) {
	fixed := bytes.Replace(raw, []byte("jasomi.com\r\n"), []byte("jasomi.com SIP/2.0\r\n"), 1)
	var m Message
	err := Parse(&m, bytes.Clone(fixed))
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "header field without colon") {
		t.Fatalf("with SIP-Version: %v, want a header field without colon", err)
	}
	fixed = bytes.Replace(fixed, []byte("Foobar roobar\r\n"), nil, 1)
	m2 := parseRaw(t, fixed)
	if mf, _, _ := m2.MaxForwards(); mf != 68 {
		t.Errorf("Max-Forwards = %d, want 68", mf)
	}
	equalStr(t, "Xyzzy-2", m2.GetName("xyzzy-2"), "this is the number ten : 10")
	equalStr(t, "body", m2.Body(), "v=0\r\ntesting=123\r\n")
	if err := m2.Validate(); !errors.Is(err, ErrMissingHeader) {
		t.Errorf("Validate: %v, want ErrMissingHeader (no CSeq, no Via)", err)
	}
	if _, err := m2.To(); !errors.Is(err, ErrBadHeader) {
		t.Errorf("To: %v, want ErrBadHeader", err)
	}
}

// RFC 4475 §4: "Parsers must carefully consider edge conditions". Every
// prefix of every torture message, as a datagram, a stream or a sipfrag,
// either parses or fails with a *ParseError pointing into the prefix; and a
// stream message cut anywhere before its end, even between the CR and LF
// of its empty line, is ErrIncomplete.
func TestTortureTruncated(t *testing.T) {
	var p Parser
	var m Message
	for _, tc := range tortureCases {
		raw, err := os.ReadFile(filepath.Join(tortureDir, tc.file))
		if err != nil {
			t.Fatal(err)
		}
		total, ferr := p.Frame(raw)
		for n := 0; n < len(raw); n++ {
			for mode, parse := range map[string]func(*Message, []byte) error{
				"Parse": p.Parse, "ParseStream": p.ParseStream, "ParseFragment": p.ParseFragment,
			} {
				err := parse(&m, bytes.Clone(raw[:n]))
				if err == nil {
					continue
				}
				var pe *ParseError
				if !errors.As(err, &pe) || pe.Offset < -1 || pe.Offset > n {
					t.Fatalf("%s cut at %d: %s: %v", tc.file, n, mode, err)
				}
				if mode == "ParseStream" && tc.step != "Parse" && ferr == nil && n < total && !errors.Is(err, ErrIncomplete) {
					t.Fatalf("%s cut at %d of %d: ParseStream: %v, want ErrIncomplete", tc.file, n, total, err)
				}
			}
		}
	}
	// The CR of the empty line ends the input.
	cut := []byte("OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 0\r\n\r")
	for _, parse := range []func(*Message, []byte) error{p.Parse, p.ParseStream} {
		var pe *ParseError
		if err := parse(&m, bytes.Clone(cut)); !errors.As(err, &pe) || !errors.Is(err, ErrIncomplete) || pe.Offset != len(cut) {
			t.Errorf("cut after CR: %v, want ErrIncomplete at %d", err, len(cut))
		}
	}
	if err := p.ParseFragment(&m, bytes.Clone(cut)); err != nil || m.ContentLength() != 0 || m.Body() != nil {
		t.Errorf("sipfrag ending in CR: %v", err)
	}
}

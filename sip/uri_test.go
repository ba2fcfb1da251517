package sip

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestURIParse(t *testing.T) {
	tests := []struct {
		in       string
		scheme   Scheme
		user     string
		password string
		host     string
		port     int
		params   string
		headers  string
		opaque   string
	}{
		// RFC 3261 §19.1.3
		{in: "sip:alice@atlanta.com", scheme: SchemeSIP, user: "alice", host: "atlanta.com"},
		{in: "sip:alice:secretword@atlanta.com;transport=tcp", scheme: SchemeSIP, user: "alice", password: "secretword", host: "atlanta.com", params: "transport=tcp"},
		{in: "sips:alice@atlanta.com?subject=project%20x&priority=urgent", scheme: SchemeSIPS, user: "alice", host: "atlanta.com", headers: "subject=project%20x&priority=urgent"},
		{in: "sip:+1-212-555-1212:1234@gateway.com;user=phone", scheme: SchemeSIP, user: "+1-212-555-1212", password: "1234", host: "gateway.com", params: "user=phone"},
		{in: "sips:1212@gateway.com", scheme: SchemeSIPS, user: "1212", host: "gateway.com"},
		{in: "sip:alice@192.0.2.4", scheme: SchemeSIP, user: "alice", host: "192.0.2.4"},
		{in: "sip:atlanta.com;method=REGISTER?to=alice%40atlanta.com", scheme: SchemeSIP, host: "atlanta.com", params: "method=REGISTER", headers: "to=alice%40atlanta.com"},
		{in: "sip:alice;day=tuesday@atlanta.com", scheme: SchemeSIP, user: "alice;day=tuesday", host: "atlanta.com"},
		// Hosts and ports
		{in: "sip:[2001:db8::10]:5070;transport=tcp", scheme: SchemeSIP, host: "[2001:db8::10]", port: 5070, params: "transport=tcp"},
		{in: "sip:[::ffff:192.0.2.1]", scheme: SchemeSIP, host: "[::ffff:192.0.2.1]"},
		{in: "sip:[::1.2.3.4]", scheme: SchemeSIP, host: "[::1.2.3.4]"},
		{in: "sip:[1:2:3:4:5:6:7:8]", scheme: SchemeSIP, host: "[1:2:3:4:5:6:7:8]"},
		{in: "sip:[1:2:3:4:5:6:7::]", scheme: SchemeSIP, host: "[1:2:3:4:5:6:7::]"},
		{in: "sip:[::]", scheme: SchemeSIP, host: "[::]"},
		{in: "sip:127.0.0.1:5080", scheme: SchemeSIP, host: "127.0.0.1", port: 5080},
		{in: "sip:alice@atlanta.com:5060", scheme: SchemeSIP, user: "alice", host: "atlanta.com", port: 5060},
		{in: "sip:host:065535", scheme: SchemeSIP, host: "host", port: 65535},
		{in: "sip:example.com.", scheme: SchemeSIP, host: "example.com."},
		{in: "sip:a-1.b2.c", scheme: SchemeSIP, host: "a-1.b2.c"},
		{in: "SIP:ALICE@AtLanTa.CoM;Transport=udp", scheme: SchemeSIP, user: "ALICE", host: "AtLanTa.CoM", params: "Transport=udp"},
		// RFC 4475 semiuri.dat
		{in: "sip:user;par=u%40example.net@example.com", scheme: SchemeSIP, user: "user;par=u%40example.net", host: "example.com"},
		// RFC 4475 esc01.dat
		{in: "sip:sips%3Auser%40example.com@example.net", scheme: SchemeSIP, user: "sips%3Auser%40example.com", host: "example.net"},
		{in: "sip:%75se%72@example.com", scheme: SchemeSIP, user: "%75se%72", host: "example.com"},
		{in: "sip:I%20have%20spaces@example.net", scheme: SchemeSIP, user: "I%20have%20spaces", host: "example.net"},
		{in: "sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31", scheme: SchemeSIP, user: "cal%6Cer", host: "host5.example.net", params: "%6C%72;n%61me=v%61lue%25%34%31"},
		// RFC 4475 escnull.dat
		{in: "sip:null-%00-null@example.com", scheme: SchemeSIP, user: "null-%00-null", host: "example.com"},
		{in: "sip:%00@host5.example.com", scheme: SchemeSIP, user: "%00", host: "host5.example.com"},
		{in: "sip:%00%00@host5.example.com", scheme: SchemeSIP, user: "%00%00", host: "host5.example.com"},
		// RFC 4475 intmeth.dat
		{in: "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com", scheme: SchemeSIP,
			user: "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*", password: "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)", host: "example.com"},
		// RFC 4475 escruri.dat, regescrt.dat: valid URIs, wrong only in a Request-URI
		{in: "sip:user@example.com?Route=%3Csip:example.com%3E", scheme: SchemeSIP, user: "user", host: "example.com", headers: "Route=%3Csip:example.com%3E"},
		{in: "sip:services.example.com;lr;unknownwith=value;unknown-no-value", scheme: SchemeSIP, host: "services.example.com", params: "lr;unknownwith=value;unknown-no-value"},
		// '@' can only end userinfo, even after a '?'
		{in: "sip:host?to=a@b", scheme: SchemeSIP, user: "host?to=a", host: "b"},
		{in: "sip:bob@host?Replaces=12345%40host%3Bto-tag%3Da%3Bfrom-tag%3Db&Priority=urgent&Empty=", scheme: SchemeSIP, user: "bob", host: "host", headers: "Replaces=12345%40host%3Bto-tag%3Da%3Bfrom-tag%3Db&Priority=urgent&Empty="},
		// RFC 3966
		{in: "tel:+1-201-555-0123", scheme: SchemeTel, user: "+1-201-555-0123"},
		{in: "tel:+358-555-1234567;postd=pp22;isub=1411", scheme: SchemeTel, user: "+358-555-1234567", params: "postd=pp22;isub=1411"},
		{in: "tel:7042;phone-context=example.com", scheme: SchemeTel, user: "7042", params: "phone-context=example.com"},
		{in: "tel:*86#;Phone-Context=+1-201", scheme: SchemeTel, user: "*86#", params: "Phone-Context=+1-201"},
		{in: "TEL:(555)1234;phone-context=+1", scheme: SchemeTel, user: "(555)1234", params: "phone-context=+1"},
		// Other schemes, RFC 4475 unksm2.dat, unkscm.dat, novelsc.dat
		{in: "mailto:bob@example.com", scheme: SchemeOther, opaque: "bob@example.com"},
		{in: "http://example.com/x", scheme: SchemeOther, opaque: "//example.com/x"},
		{in: "isbn:2983792873", scheme: SchemeOther, opaque: "2983792873"},
		{in: "http://www.example.com", scheme: SchemeOther, opaque: "//www.example.com"},
		{in: "name:John_Smith", scheme: SchemeOther, opaque: "John_Smith"},
		{in: "nobodyKnowsThisScheme:totallyopaquecontent", scheme: SchemeOther, opaque: "totallyopaquecontent"},
		{in: "soap.beep://192.0.2.103:3002", scheme: SchemeOther, opaque: "//192.0.2.103:3002"},
		{in: "urn:service:sos", scheme: SchemeOther, opaque: "service:sos"},
	}
	for _, tt := range tests {
		var u URI
		if err := u.Parse([]byte(tt.in)); err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		got := [...]string{string(u.User), string(u.Password), string(u.Host), string(u.Params), string(u.Headers), string(u.Opaque)}
		want := [...]string{tt.user, tt.password, tt.host, tt.params, tt.headers, tt.opaque}
		if u.Scheme != tt.scheme || u.Port != tt.port || got != want {
			t.Errorf("Parse(%q) = scheme %v port %d %q, want scheme %v port %d %q", tt.in, u.Scheme, u.Port, got, tt.scheme, tt.port, want)
		}
		if string(u.Raw) != tt.in {
			t.Errorf("Parse(%q): Raw = %q", tt.in, u.Raw)
		}
		if n := len(u.SchemeRaw); n == 0 || tt.in[n] != ':' || string(u.SchemeRaw) != tt.in[:n] {
			t.Errorf("Parse(%q): SchemeRaw = %q", tt.in, u.SchemeRaw)
		}
		if (u.Password != nil) != (tt.password != "") {
			t.Errorf("Parse(%q): Password = %#v", tt.in, u.Password)
		}
	}
}

func TestURIParseEmptyPassword(t *testing.T) {
	var u URI
	if err := u.Parse([]byte("sip:alice:@atlanta.com")); err != nil {
		t.Fatal(err)
	}
	if u.Password == nil || len(u.Password) != 0 || string(u.User) != "alice" {
		t.Errorf("User %q Password %#v, want alice and an empty, present password", u.User, u.Password)
	}
}

func TestURIParseErrors(t *testing.T) {
	type test struct {
		in     string
		offset int
		reason string
	}
	tests := []test{
		{"", 0, "empty URI"},
		{"sip:", 4, "missing host in URI"},
		{"sip:@host", 4, "empty user in URI"},
		{"sip::pw@host", 4, "empty user in URI"},
		{"sip:host:99999", 9, "bad port in URI"},
		{"sip:host:65536", 9, "bad port in URI"},
		{"sip:host:x", 9, "bad port in URI"},
		{"sip:host:", 9, "bad port in URI"},
		{"sip:host:5060x", 13, "bad port in URI"},
		{"sip:1.2.3.256", 4, "bad host in URI"},
		{"sip:1.2.3", 4, "bad host in URI"},
		{"sip:1.2.3.4.5", 4, "bad host in URI"},
		{"sip:[2001:db8:::1]", 4, "bad host in URI"},
		{"sip:[1::2::3]", 4, "bad host in URI"},
		{"sip:[1:2:3:4:5:6:7:8:9]", 4, "bad host in URI"},
		{"sip:[1:2:3:4:5:6:7]", 4, "bad host in URI"},
		{"sip:[1::2:3:4:5:6:7:8]", 4, "bad host in URI"},
		{"sip:[12345::]", 4, "bad host in URI"},
		{"sip:[::1.2.3.256]", 4, "bad host in URI"},
		{"sip:[1:2:3:4:5:6:7:1.2.3.4]", 4, "bad host in URI"},
		{"sip:[:1::]", 4, "bad host in URI"},
		{"sip:[1:]", 4, "bad host in URI"},
		{"sip:[::1", 4, "bad host in URI"},
		{"sip:[]", 4, "bad host in URI"},
		{"sip:-host.com", 4, "bad host in URI"},
		{"sip:host-.com", 4, "bad host in URI"},
		{"sip:a..com", 4, "bad host in URI"},
		{"sip:example.123", 4, "bad host in URI"},
		{"sip:a@b@c", 7, "bad host in URI"},
		{"sip:host[", 8, "bad host in URI"},
		{"sip:%61tlanta.com", 4, "bad host in URI"},
		{"sip:host:0", 9, "bad port in URI"},
		{"sip:host:00000", 9, "bad port in URI"},
		{"sip:user@example.com; lr", 21, "whitespace in URI"},
		{"sip:al ice@host", 6, "whitespace in URI"},
		{" sip:host", 0, "whitespace in URI"},
		{"sip:host\r\n", 8, "whitespace in URI"},
		{"sip:%4@host", 4, "bad escape in URI"},
		{"sip:%zz@host", 4, "bad escape in URI"},
		{"sip:a%4", 5, "bad escape in URI"},
		{"sip:a@host;x=%4", 13, "bad escape in URI"},
		{"sip:a@host?x=%g0", 13, "bad escape in URI"},
		{"sip:a<b@host", 5, "bad user in URI"},
		{"sip:user:pa:ss@host", 11, "bad password in URI"},
		{"sipalice@host", 8, "bad scheme in URI"},
		{"sip", 3, "bad scheme in URI"},
		{"<sip:user@example.com>", 0, "bad scheme in URI"},
		{"1sip:host", 0, "bad scheme in URI"},
		{":host", 0, "bad scheme in URI"},
		{"sip:host;;x", 9, "empty parameter in URI"},
		{"sip:host;", 9, "empty parameter in URI"},
		{"sip:host;a;", 11, "empty parameter in URI"},
		{"sip:host;=x", 9, "empty parameter in URI"},
		{"sip:host;a=", 11, "empty parameter value in URI"},
		{"sip:host;a=;b", 11, "empty parameter value in URI"},
		{"sip:host;a=b=c", 12, "bad parameter in URI"},
		{"sip:host;a\"b", 10, "bad parameter in URI"},
		{"sip:host;lr;transport=tcp;Transport=udp", 26, "duplicate parameter in URI"},
		{"sip:host;lr;%6C%72", 12, "duplicate parameter in URI"},
		{"tel:+1;ext=1;ext=2", 13, "duplicate parameter in URI"},
		{"sip:host?", 9, "empty header in URI"},
		{"sip:host?a=b&", 13, "empty header in URI"},
		{"sip:host?a", 10, "bad header in URI"},
		{"sip:host?a=b;c", 12, "bad header in URI"},
		{"tel:", 4, "bad telephone number in URI"},
		{"tel:+", 5, "bad telephone number in URI"},
		{"tel:+-", 6, "bad telephone number in URI"},
		{"tel:+1-abc", 7, "bad telephone number in URI"},
		{"tel:+1 2", 6, "whitespace in URI"},
		{"tel:12+3;phone-context=x", 6, "bad telephone number in URI"},
		{"tel:1234", 4, "missing phone-context in URI"},
		{"tel:1234;ext=5", 4, "missing phone-context in URI"},
		{"tel:+1234;", 10, "empty parameter in URI"},
		{"tel:+1234;a b", 11, "whitespace in URI"},
		{"mailto:", 7, "empty opaque part in URI"},
		{"mailto:a b", 8, "whitespace in URI"},
		{"mailto:<a>", 7, "bad character in URI"},
		{"mailto:a\"b", 8, "bad character in URI"},
		{"mailto:a%zz", 8, "bad escape in URI"},
		{"x:\x7f", 2, "bad character in URI"},
	}
	// At most MaxParams parameters and header components.
	var params, headers strings.Builder
	for i := 0; i < MaxParams; i++ {
		fmt.Fprintf(&params, ";p%d", i)
		fmt.Fprintf(&headers, "&h%d=", i)
	}
	long := "sip:h" + params.String()
	if err := new(URI).Parse([]byte(long)); err != nil {
		t.Errorf("%d parameters: %v", MaxParams, err)
	}
	if err := new(URI).Parse([]byte("sip:h?" + headers.String()[1:])); err != nil {
		t.Errorf("%d headers: %v", MaxParams, err)
	}
	tests = append(tests,
		test{long + ";x", len(long) + 1, "too many parameters in URI"},
		test{"sip:h?" + headers.String()[1:] + "&x=", len("sip:h?" + headers.String()), "too many headers in URI"},
	)
	for _, tt := range tests {
		var u URI
		err := u.Parse([]byte(tt.in))
		var pe *ParseError
		if !errors.As(err, &pe) || !errors.Is(err, ErrBadURI) {
			t.Errorf("Parse(%q) = %v, want a *ParseError wrapping ErrBadURI", tt.in, err)
			continue
		}
		if pe.Offset != tt.offset || pe.Reason != tt.reason {
			t.Errorf("Parse(%q): offset %d %q, want %d %q", tt.in, pe.Offset, pe.Reason, tt.offset, tt.reason)
		}
	}
}

func TestURIEqual(t *testing.T) {
	// Each group holds URIs that are all equivalent to one another.
	equal := [][]string{
		// RFC 3261 §19.1.4
		{"sip:%61lice@atlanta.com;transport=TCP", "sip:alice@AtLanTa.CoM;Transport=tcp"},
		{"sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5", "sip:carol@chicago.com;security=on"},
		{"sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com", "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com"},
		{"sip:alice@atlanta.com?subject=project%20x&priority=urgent", "sip:alice@atlanta.com?priority=urgent&subject=project%20x"},
		// Escapes of unreserved characters, reserved ones in either case
		{"sip:a%3bb@h", "sip:a%3Bb@h"},
		{"sip:h;%74ransport=tcp", "sip:h;transport=T%43P"},
		{"sip:h;lr", "sip:h"},
		{"sip:h?%53ubject=x", "sip:h?subject=%78"},
		// RFC 5954: IP addresses compare in binary form
		{"sip:[2001:db8::10]", "sip:[2001:DB8:0:0:0:0:0:10]", "sip:[2001:0db8::0:010]"},
		{"sip:[::ffff:192.0.2.1]", "sip:[::FFFF:c000:0201]"},
		{"sip:192.0.2.4", "sip:192.000.002.004"},
		{"sip:h:5060", "sip:h:05060"},
		// RFC 3966 §4
		{"tel:+358-555-1234567;postd=pp22", "tel:+358.555.(1234567);POSTD=PP22", "TEL:+3585551234567;postd=pp22"},
		{"tel:+358-555-1234567;postd=pp22;isub=1411", "tel:+358-555-1234567;isub=1411;postd=pp22"},
		{"tel:7042;phone-context=example.com", "tel:7042;Phone-Context=EXAMPLE.com"},
		{"tel:7042;phone-context=+1-201", "tel:70-42;phone-context=+1201"},
		{"tel:+1;ext=1-2", "tel:+1;ext=12"},
		{"tel:ab;phone-context=x", "tel:AB;phone-context=x"},
		// Other schemes
		{"mailto:bob@example.com", "MailTo:bob@example.com"},
	}
	notEqual := [][2]string{
		// RFC 3261 §19.1.4
		{"SIP:ALICE@AtLanTa.CoM;Transport=udp", "sip:alice@AtLanTa.CoM;Transport=UDP"},
		{"sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"},
		{"sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp"},
		{"sip:bob@biloxi.com", "sip:bob@biloxi.com:6000;transport=tcp"},
		{"sip:carol@chicago.com", "sip:carol@chicago.com?Subject=next%20meeting"},
		{"sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"},
		{"sip:carol@chicago.com;security=on", "sip:carol@chicago.com;security=off"},
		{"sip:alice@atlanta.com", "sips:alice@atlanta.com"},
		{"sip:alice@atlanta.com", "sip:atlanta.com"},
		{"sip:alice:pw@atlanta.com", "sip:alice@atlanta.com"},
		{"sip:alice:@atlanta.com", "sip:alice@atlanta.com"},
		{"sip:alice:pw@atlanta.com", "sip:alice:PW@atlanta.com"},
		{"sip:h;user=ip", "sip:h"},
		{"sip:h;ttl=1", "sip:h"},
		{"sip:h;method=INVITE", "sip:h"},
		{"sip:h;maddr=239.255.255.1", "sip:h"},
		{"sip:h;lr", "sip:h;lr=on"},
		// Escaped reserved characters are not the characters themselves
		{"sip:a%3Bb@h", "sip:a;b@h"},
		{"sip:h?to=a%40b", "sip:h?to=a%2540b"},
		// Header components: both ways, values exactly
		{"sip:h?a=1", "sip:h?a=1&b=2"},
		{"sip:h?a=1", "sip:h?a=2"},
		{"sip:h?subject=x", "sip:h?subject=X"},
		{"sip:[2001:db8::10]", "sip:[2001:db8::11]"},
		{"sip:[::ffff:192.0.2.1]", "sip:192.0.2.1"},
		// RFC 3966 §4
		{"tel:+1234", "tel:1234;phone-context=+1"},
		{"tel:+1234", "tel:+1234;isub=1"},
		{"tel:+1234;postd=1", "tel:+1234;isub=1"},
		{"tel:+1234", "tel:+12345"},
		{"tel:1;phone-context=a.b", "tel:1;phone-context=ab"},
		{"tel:+1234", "sip:+1234@h;user=phone"},
		{"mailto:bob@example.com", "mailto:Bob@example.com"},
		{"mailto:bob@example.com", "xmpp:bob@example.com"},
	}
	parse := func(s string) *URI {
		u := new(URI)
		if err := u.Parse([]byte(s)); err != nil {
			t.Fatalf("Parse(%q): %v", s, err)
		}
		return u
	}
	for _, group := range equal {
		for _, a := range group {
			for _, b := range group {
				if !parse(a).Equal(parse(b)) {
					t.Errorf("%q and %q: not equal, want equal", a, b)
				}
			}
		}
	}
	for _, pair := range notEqual {
		a, b := parse(pair[0]), parse(pair[1])
		if a.Equal(b) || b.Equal(a) {
			t.Errorf("%q and %q: equal, want not equal", pair[0], pair[1])
		}
	}
}

func TestURIHeader(t *testing.T) {
	// RFC 3891 attended transfer: the Refer-To URI carries an escaped Replaces.
	var u URI
	if err := u.Parse([]byte("sip:bob@host?Replaces=12345%40host%3Bto-tag%3Da%3Bfrom-tag%3Db&Require=replaces")); err != nil {
		t.Fatal(err)
	}
	v, ok := u.Header("replaces")
	if !ok || string(v) != "12345%40host%3Bto-tag%3Da%3Bfrom-tag%3Db" {
		t.Fatalf("Header(replaces) = %q, %v", v, ok)
	}
	got, err := Unescape(nil, v)
	if err != nil || string(got) != "12345@host;to-tag=a;from-tag=b" {
		t.Errorf("Unescape(%q) = %q, %v", v, got, err)
	}
	if v, ok := u.Header("REQUIRE"); !ok || string(v) != "replaces" {
		t.Errorf("Header(REQUIRE) = %q, %v", v, ok)
	}
	if v, ok := u.Header("Subject"); ok || v != nil {
		t.Errorf("Header(Subject) = %q, %v, want none", v, ok)
	}

	// NextHeader visits every header component in order.
	if err := u.Parse([]byte("sip:h?a=1&b=&c=%33")); err != nil {
		t.Fatal(err)
	}
	var seen []string
	for i := 0; i < len(u.Headers); {
		var name, value []byte
		name, value, i = u.NextHeader(i)
		seen = append(seen, string(name)+"|"+string(value))
	}
	if want := []string{"a|1", "b|", "c|%33"}; len(seen) != len(want) || seen[0] != want[0] || seen[1] != want[1] || seen[2] != want[2] {
		t.Errorf("NextHeader visited %q, want %q", seen, want)
	}
}

func TestURIParams(t *testing.T) {
	var u URI
	if err := u.Parse([]byte("sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31;MADDR=239.255.255.1;transport=TCP;user=phone")); err != nil {
		t.Fatal(err)
	}
	if !u.LR() {
		t.Error("LR() = false for an escaped lr parameter")
	}
	v, ok := u.Param("name")
	if !ok || string(v) != "v%61lue%25%34%31" {
		t.Errorf("Param(name) = %q, %v", v, ok)
	}
	if got, _ := Unescape(nil, v); string(got) != "value%41" {
		t.Errorf("unescaped name = %q, want value%%41", got)
	}
	if string(u.Maddr()) != "239.255.255.1" || string(u.Transport()) != "TCP" || string(u.UserParam()) != "phone" {
		t.Errorf("Maddr %q Transport %q UserParam %q", u.Maddr(), u.Transport(), u.UserParam())
	}
	if u.HasParam("ttl") || u.IsSecure() {
		t.Errorf("HasParam(ttl) %v IsSecure %v, want false", u.HasParam("ttl"), u.IsSecure())
	}
	if err := u.Parse([]byte("sips:h")); err != nil || !u.IsSecure() || u.LR() || u.Transport() != nil {
		t.Errorf("sips:h: err %v IsSecure %v LR %v Transport %q", err, u.IsSecure(), u.LR(), u.Transport())
	}
}

func TestURIAppendTo(t *testing.T) {
	in := "SIP:Alice@Atlanta.com:05060;transport=tcp?subject=x"
	var u URI
	if err := u.Parse([]byte(in)); err != nil {
		t.Fatal(err)
	}
	if got := string(u.AppendTo([]byte("<"))); got != "<"+in {
		t.Errorf("AppendTo = %q, want the parsed text", got)
	}
	tests := []struct {
		u    URI
		want string
	}{
		{URI{Scheme: SchemeSIP, Host: []byte("atlanta.com")}, "sip:atlanta.com"},
		{URI{Scheme: SchemeSIPS, User: []byte("alice"), Password: []byte("pw"), Host: []byte("[2001:db8::1]"), Port: 5061,
			Params: Params("transport=tcp"), Headers: []byte("Replaces=a%40b")}, "sips:alice:pw@[2001:db8::1]:5061;transport=tcp?Replaces=a%40b"},
		{URI{Scheme: SchemeTel, User: []byte("+1-201-555-0123"), Params: Params("ext=1")}, "tel:+1-201-555-0123;ext=1"},
		{URI{Scheme: SchemeOther, SchemeRaw: []byte("mailto"), Opaque: []byte("bob@example.com")}, "mailto:bob@example.com"},
	}
	for _, tt := range tests {
		got := tt.u.String()
		if got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
			continue
		}
		var back URI
		if err := back.Parse([]byte(got)); err != nil || !back.Equal(&tt.u) || !tt.u.Equal(&back) {
			t.Errorf("%q does not parse back to an equal URI: %v", got, err)
		}
	}
	// Changed fields are written once Raw is cleared.
	u.Raw, u.Port, u.Headers = nil, 0, nil
	if got := u.String(); got != "SIP:Alice@Atlanta.com;transport=tcp" {
		t.Errorf("String() after edit = %q", got)
	}
}

func TestIPv6(t *testing.T) {
	tests := []struct {
		in   string
		want [16]byte
	}{
		{"::", [16]byte{}},
		{"::1", [16]byte{15: 1}},
		{"1::", [16]byte{1: 1}},
		{"2001:db8::10", [16]byte{0x20, 0x01, 0x0d, 0xb8, 15: 0x10}},
		{"1:2:3:4:5:6:7:8", [16]byte{0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8}},
		{"::ffff:192.0.2.1", [16]byte{10: 0xff, 11: 0xff, 12: 192, 13: 0, 14: 2, 15: 1}},
		{"1:2:3:4:5:6:1.2.3.4", [16]byte{0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 1, 2, 3, 4}},
		{"a:B::c:D", [16]byte{0, 0xa, 0, 0xb, 12: 0, 13: 0xc, 14: 0, 15: 0xd}},
	}
	for _, tt := range tests {
		got, ok := parseIPv6([]byte(tt.in))
		if !ok || got != tt.want {
			t.Errorf("parseIPv6(%q) = %v, %v, want %v", tt.in, got, ok, tt.want)
		}
	}
	for _, in := range []string{"", ":", ":::", "1", "1:2", "1::2::3", "::1:", "1:2:3:4:5:6:7:8:9", "12345::", "::g", "1.2.3.4", "::1.2.3", "1:2:3:4:5:6:7:1.2.3.4", "::1.2.3.4:5"} {
		if _, ok := parseIPv6([]byte(in)); ok {
			t.Errorf("parseIPv6(%q) ok, want failure", in)
		}
	}
}

func TestURIZeroAllocs(t *testing.T) {
	a := []byte("sip:%61lice:pw@AtLanTa.CoM:5060;transport=TCP;lr?subject=project%20x&Replaces=1%40h%3Bto-tag%3Da")
	b := []byte("sip:alice:pw@atlanta.com:5060;lr;transport=tcp?replaces=1%40h%3Bto-tag%3Da&subject=project%20x")
	var u, v URI
	if err := v.Parse(b); err != nil {
		t.Fatal(err)
	}
	p := Params(`tag=x ; foo="a;b" ;lr`)
	for name, f := range map[string]func(){
		"Parse":  func() { _ = u.Parse(a) },
		"Equal":  func() { _ = u.Equal(&v) },
		"Header": func() { _, _ = u.Header("Replaces") },
		"Param":  func() { _ = u.Transport() },
		"Get":    func() { _, _ = p.Get("LR") },
	} {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s: %v allocations, want 0", name, n)
		}
	}
	if !u.Equal(&v) {
		t.Error("the URIs measured should be equal")
	}
}

// FuzzURIParse checks that any URI Parse accepts is equal to itself, is
// written back as it was read, and survives being rebuilt from its fields.
func FuzzURIParse(f *testing.F) {
	for _, s := range []string{
		"sip:alice:pw@atlanta.com:5060;transport=tcp;lr?subject=project%20x&priority=urgent",
		"sips:[2001:db8::10]:5061;maddr=[::ffff:192.0.2.1]",
		"sip:user;par=u%40example.net@example.com",
		"sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31",
		"tel:+1-201-555-0123;ext=1;isub=2", "tel:7042;phone-context=example.com",
		"mailto:bob@example.com", "sip:alice:@h:05060", "sip:h?a=&b=c",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var u URI
		if u.Parse(in) != nil {
			return
		}
		if !u.Equal(&u) {
			t.Fatalf("%q is not equal to itself", in)
		}
		if out := u.AppendTo(nil); string(out) != string(in) {
			t.Fatalf("AppendTo = %q, want %q", out, in)
		}
		w := u
		w.Raw = nil
		var back URI
		if err := back.Parse([]byte(w.String())); err != nil || !back.Equal(&u) || !u.Equal(&back) {
			t.Fatalf("%q rebuilt as %q: %v, not equal", in, w.String(), err)
		}
		for i := 0; i < len(u.Headers); {
			var name, value []byte
			name, value, i = u.NextHeader(i)
			if _, err := Unescape(nil, name); err != nil {
				t.Fatal(err)
			}
			if _, err := Unescape(nil, value); err != nil {
				t.Fatal(err)
			}
		}
	})
}

var benchURI = []byte("sips:alice@atlanta.example.com:5061;transport=tcp;lr?subject=project%20x&priority=urgent")

func BenchmarkURIParse(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchURI)))
	var u URI
	for i := 0; i < b.N; i++ {
		if err := u.Parse(benchURI); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkURIEqual(b *testing.B) {
	b.ReportAllocs()
	var u, v URI
	if u.Parse(benchURI) != nil || v.Parse([]byte("SIPS:alice@Atlanta.Example.Com:5061;lr;transport=TCP?priority=urgent&subject=project%20x")) != nil {
		b.Fatal("parse")
	}
	for i := 0; i < b.N; i++ {
		if !u.Equal(&v) {
			b.Fatal("not equal")
		}
	}
}

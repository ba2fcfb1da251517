package refer

import (
	"errors"
	"strings"
	"testing"

	"github.com/sipxfer/sipxfer/sip"
)

// refer parses a REFER whose header section ends with fields (lines
// separated by "\n").
func refer(t testing.TB, fields string) *sip.Message {
	t.Helper()
	m := new(sip.Message)
	msg := "REFER sip:b@h SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nTo: <sip:b@h>\nFrom: <sip:a@h>;tag=1\nCall-ID: c\nCSeq: 1 REFER\n" + fields + "\n\n"
	if err := sip.Parse(m, []byte(strings.ReplaceAll(msg, "\n", "\r\n"))); err != nil {
		t.Fatalf("%q: %v", fields, err)
	}
	return m
}

// wantError checks that err is an *Error with the given response and
// sentinel.
func wantError(t *testing.T, what string, err error, status int, reason string, sentinel error) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Status != status || e.Reason != reason || !errors.Is(err, sentinel) {
		t.Errorf("%s: %v (%#v), want %d %q %v", what, err, e, status, reason, sentinel)
		return
	}
	if !strings.HasPrefix(err.Error(), "refer: ") {
		t.Errorf("%s: error text %q", what, err.Error())
	}
}

// RFC 3515 §2.4.2: zero or more than one Refer-To value MUST be answered
// 400, counted across fields and comma-separated values.
func TestParseReferToCount(t *testing.T) {
	tests := []struct {
		fields, reason string
		sentinel       error
	}{
		{"", "Missing Refer-To", ErrNoReferTo},
		{"Refer-To: <sip:c@h>\nRefer-To: <sip:d@h>", "Multiple Refer-To values", ErrMultipleReferTo},
		{"Refer-To: <sip:c@h>\nr: <sip:c@h>", "Multiple Refer-To values", ErrMultipleReferTo},
		{"Refer-To: <sip:c@h>, <sip:d@h>", "Multiple Refer-To values", ErrMultipleReferTo},
		{"Refer-To: sip:c@h,sip:d@h", "Multiple Refer-To values", ErrMultipleReferTo},
		{`Refer-To: "a, b" <sip:c@h>, "c" <sip:d@h>`, "Multiple Refer-To values", ErrMultipleReferTo},
		{"Refer-To: <sip:c@h>,", "Malformed Refer-To", ErrBadReferTo},
		{"Refer-To: <sip:c@h>\nRefer-To:", "Malformed Refer-To", ErrBadReferTo},
		{"Refer-To:", "Malformed Refer-To", ErrBadReferTo},
	}
	for _, tt := range tests {
		_, err := ParseReferTo(refer(t, tt.fields), nil)
		wantError(t, tt.fields, err, 400, tt.reason, tt.sentinel)
	}
	// A comma in a quoted display name, a quoted parameter or the user part
	// of a URI in <> separates nothing.
	for _, f := range []string{
		`Refer-To: "Smith, John" <sip:john@h>`,
		`Refer-To: "a \", b" <sip:c@h>`,
		`Refer-To: <sip:c@h>;x="a,b"`,
		`Refer-To: <sip:a,b@h>`,
	} {
		if _, err := ParseReferTo(refer(t, f), nil); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestParseReferToMalformed(t *testing.T) {
	for _, f := range []string{
		"Refer-To: <sip:c@h",
		"Refer-To: *",
		"Refer-To: <sip:c@h>;tag=1;tag=2",
		// RFC 3261 §20: a URI with '?' MUST be in angle brackets.
		"Refer-To: sip:c@h?Subject=x",
		// RFC 3261 §25: ';' and '=' are no hvalue characters unescaped.
		"Refer-To: <sip:c@h?Replaces=a;to-tag=1;from-tag=2>",
		// RFC 3515 §2.1's second example as printed: its second header
		// escapes the '=' that RFC 3261 §25 (header = hname "=" hvalue)
		// requires.
		"Refer-To: <sip:bob@biloxi.example.net?Accept-Contact=sip:bobsdesk.biloxi.example.net&Call-ID%3D55432%40alicepc.atlanta.example.com>",
	} {
		_, err := ParseReferTo(refer(t, f), nil)
		wantError(t, f, err, 400, "Malformed Refer-To", ErrBadReferTo)
		if f != "Refer-To: *" {
			var pe *sip.ParseError
			if !errors.As(err, &pe) || !errors.Is(err, sip.ErrBadHeader) {
				t.Errorf("%s: %v does not wrap the sip.ParseError", f, err)
			}
		}
	}
}

// RFC 3515 §2.4.2, §5.2: sip, sips always; tel and other schemes only by
// policy.
func TestParseReferToScheme(t *testing.T) {
	tests := []struct {
		uri            string
		zero, tel, any bool // accepted by the zero Policy, with AllowTel, with AllowOtherSchemes
	}{
		{"sip:alice@atlanta.example.com", true, true, true},
		{"SIPS:alice@atlanta.example.com", true, true, true},
		{"tel:+1-201-555-0123", false, true, false},
		{"http://www.ietf.org", false, false, true},
		{"mailto:bob@example.com", false, false, true},
	}
	for _, tt := range tests {
		for _, c := range []struct {
			p    *Policy
			want bool
		}{{nil, tt.zero}, {&Policy{AllowTel: true}, tt.tel}, {&Policy{AllowOtherSchemes: true}, tt.any}} {
			f := "Refer-To: <" + tt.uri + ">"
			target, err := ParseReferTo(refer(t, f), c.p)
			if c.want {
				if err != nil || string(target.URI().Raw) != tt.uri {
					t.Errorf("%s, %+v: %q, %v", f, c.p, target.URI().Raw, err)
				}
				continue
			}
			wantError(t, f, err, 403, "Refer-To scheme not allowed", ErrScheme)
		}
	}
}

// RFC 3261 §19.1.5: the method parameter is the method of the request;
// other than INVITE only by policy.
func TestParseReferToMethod(t *testing.T) {
	for _, f := range []string{"Refer-To: <sip:c@h;method=SUBSCRIBE>", "Refer-To: <sip:c@h;%6Dethod=BYE>", "Refer-To: <sip:c@h;method=invite>"} {
		_, err := ParseReferTo(refer(t, f), nil)
		wantError(t, f, err, 403, "Refer-To method not allowed", ErrMethod)
	}
	target, err := ParseReferTo(refer(t, "Refer-To: <sip:carol@cleveland.example.org;method=SUBSCRIBE>"), &Policy{AnyMethod: true})
	if err != nil || target.Method() != sip.MethodSubscribe {
		t.Errorf("method=SUBSCRIBE with AnyMethod: %v, %v", target.Method(), err)
	}
	target, err = ParseReferTo(refer(t, "Refer-To: <sip:c@h;METHOD=INVITE>"), nil)
	if err != nil || target.Method() != sip.MethodInvite {
		t.Errorf("method=INVITE: %v, %v", target.Method(), err)
	}
	// RFC 3891 §3: Replaces only in an INVITE.
	_, err = ParseReferTo(refer(t, "Refer-To: <sip:c@h;method=BYE?Replaces=a%3Bto-tag%3D1%3Bfrom-tag%3D2>"), &Policy{AnyMethod: true})
	wantError(t, "Replaces with method=BYE", err, 400, "Replaces in Refer-To needs INVITE", ErrReplaces)
}

func TestAppendRequestURI(t *testing.T) {
	tests := []struct{ refer, want string }{
		{"<sips:482n4z24kdg@chicago.example.com;gr=8594958?Replaces=a%3Bto-tag%3D1%3Bfrom-tag%3D2&Require=replaces>", "sips:482n4z24kdg@chicago.example.com;gr=8594958"},
		{"<sip:c@[2001:db8::1]:5070;transport=tcp;method=INVITE;maddr=192.0.2.1;lr>", "sip:c@[2001:db8::1]:5070;transport=tcp;maddr=192.0.2.1;lr"},
		{"<sip:user;x=y:pw@h;%6Dethod=INVITE>", "sip:user;x=y:pw@h"},
		{"sip:alice@atlanta.example.com", "sip:alice@atlanta.example.com"},
		{"<tel:+1-201-555-0123;ext=1>", "tel:+1-201-555-0123;ext=1"},
	}
	for _, tt := range tests {
		target, err := ParseReferTo(refer(t, "Refer-To: "+tt.refer), &Policy{AllowTel: true})
		if err != nil {
			t.Errorf("%s: %v", tt.refer, err)
			continue
		}
		if got := target.AppendRequestURI(nil); string(got) != tt.want {
			t.Errorf("%s: AppendRequestURI = %q, want %q", tt.refer, got, tt.want)
		}
	}
}

// headers collects what EachHeader reports, as "name=value" lines.
func headers(target *Target) string {
	var b strings.Builder
	target.EachHeader(nil, func(h sip.HeaderName, name, value []byte) {
		b.WriteString(string(name) + "=" + string(value) + "\n")
	})
	return b.String()
}

func dropped(target *Target) string {
	var b strings.Builder
	target.EachDropped(func(name, value []byte) { b.WriteString(string(name) + "=" + string(value) + "\n") })
	return b.String()
}

// RFC 3261 §19.1.5: headers embedded in a URI are honoured one by one, the
// dangerous ones never.
func TestParseReferToEmbeddedHeaders(t *testing.T) {
	const f = "Refer-To: <sip:c@h?Via=SIP/2.0/UDP%20evil&s=hi%20there&Call-ID=1&X-Foo=bar&body=hello&Organization=Evil&Priority=urgent&Call-Info=%3Chttp://h/i%3E&call-info=%3Chttp://h/j%3E&a=*%3Baudio&Referred-By=%3Csip:x%40h%3E&Target-Dialog=a%3Blocal-tag%3D1%3Bremote-tag%3D2>"
	target, err := ParseReferTo(refer(t, f), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := headers(&target), "s=hi there\nPriority=urgent\nCall-Info=<http://h/i>\ncall-info=<http://h/j>\na=*;audio\n"; got != want {
		t.Errorf("allowed headers:\n%s\nwant:\n%s", got, want)
	}
	if got, want := dropped(&target), "Via=SIP/2.0/UDP%20evil\nCall-ID=1\nX-Foo=bar\nbody=hello\nOrganization=Evil\nReferred-By=%3Csip:x%40h%3E\nTarget-Dialog=a%3Blocal-tag%3D1%3Bremote-tag%3D2\n"; got != want {
		t.Errorf("dropped headers:\n%s\nwant:\n%s", got, want)
	}
	if target.Dropped() != 7 || target.HasReplaces() {
		t.Errorf("Dropped() = %d, HasReplaces() = %v", target.Dropped(), target.HasReplaces())
	}
	// Known names in long form, others as written; nothing else.
	if got, want := string(target.AppendHeaderFields(nil)), "Subject: hi there\r\nPriority: urgent\r\nCall-Info: <http://h/i>\r\nCall-Info: <http://h/j>\r\nAccept-Contact: *;audio\r\n"; got != want {
		t.Errorf("AppendHeaderFields = %q, want %q", got, want)
	}

	// RejectForbidden: a forbidden header refuses the REFER, another
	// disallowed one is still left out.
	p := &Policy{EmbeddedHeaders: RejectForbidden}
	for _, c := range []struct{ uri, header string }{
		{"sip:c@h?Via=x", "Via"}, {"sip:c@h?v=x", "Via"}, {"sip:c@h?CONTACT=%3Csip:e%40h%3E", "Contact"},
		{"sip:c@h?body=x", "body"}, {"sip:c@h?Bo%64y=x", "body"}, {"sip:c@h?Organization=x", "Organization"},
		{"sip:c@h?Supported=replaces", "Supported"}, {"sip:c@h?Content-Type=application/sdp", "Content-Type"},
	} {
		_, err := ParseReferTo(refer(t, "Refer-To: <"+c.uri+">"), p)
		wantError(t, c.uri, err, 403, "Header "+c.header+" not allowed in Refer-To", ErrEmbeddedHeader)
	}
	if target, err := ParseReferTo(refer(t, "Refer-To: <sip:c@h?X-Foo=1&Subject=s>"), p); err != nil || target.Dropped() != 1 {
		t.Errorf("X-Foo with RejectForbidden: %v, dropped %d", err, target.Dropped())
	}
	// RejectDisallowed: any header not allowed refuses it, named when its
	// name can go into a reason phrase.
	p = &Policy{EmbeddedHeaders: RejectDisallowed}
	_, err = ParseReferTo(refer(t, "Refer-To: <sip:c@h?Subject=s&X-Foo=1>"), p)
	wantError(t, "X-Foo", err, 403, "Header X-Foo not allowed in Refer-To", ErrEmbeddedHeader)
	_, err = ParseReferTo(refer(t, "Refer-To: <sip:c@h?X%60Foo=1>"), p)
	wantError(t, "X`Foo", err, 403, "Header header not allowed in Refer-To", ErrEmbeddedHeader)

	// AllowHeader replaces the default list, but cannot allow a forbidden
	// header, nor a name that is no token.
	p = &Policy{AllowHeader: func(h sip.HeaderName, name []byte) bool {
		return h == sip.HeaderTargetDialog || h == sip.HeaderVia || string(name) == "X[1]" || DefaultAllowHeader(h, name)
	}}
	target, err = ParseReferTo(refer(t, "Refer-To: <sip:c@h?Target-Dialog=a%3Blocal-tag%3D1%3Bremote-tag%3D2&Via=x&X%5B1%5D=1&Subject=s>"), p)
	if err != nil || headers(&target) != "Target-Dialog=a;local-tag=1;remote-tag=2\nSubject=s\n" || target.Dropped() != 2 {
		t.Errorf("custom AllowHeader: %q, dropped %d, %v", headers(&target), target.Dropped(), err)
	}
}

// RFC 3892 §2.2: the referee MUST copy the REFER's Referred-By into the
// request; an embedded one, if allowed, does not make a second.
func TestAppendHeaderFieldsReferredBy(t *testing.T) {
	m := refer(t, "Refer-To: <sip:c@h?Subject=s>\nReferred-By: <sip:a@h>;cid=\"1@h\"")
	target, err := ParseReferTo(m, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(target.AppendHeaderFields(nil)), "Referred-By: <sip:a@h>;cid=\"1@h\"\r\nSubject: s\r\n"; got != want {
		t.Errorf("AppendHeaderFields = %q, want %q", got, want)
	}
	p := &Policy{AllowHeader: func(h sip.HeaderName, name []byte) bool { return h == sip.HeaderReferredBy }}
	target, err = ParseReferTo(refer(t, "Refer-To: <sip:c@h?Referred-By=%3Csip:x%40h%3E>\nReferred-By: <sip:a@h>"), p)
	if got := string(target.AppendHeaderFields(nil)); err != nil || got != "Referred-By: <sip:a@h>\r\n" {
		t.Errorf("AppendHeaderFields = %q, %v", got, err)
	}
	target, err = ParseReferTo(refer(t, "Refer-To: <sip:c@h?Referred-By=%3Csip:x%40h%3E>"), p)
	if got := string(target.AppendHeaderFields(nil)); err != nil || got != "Referred-By: <sip:x@h>\r\n" {
		t.Errorf("AppendHeaderFields = %q, %v", got, err)
	}
}

// An allowed header must make a valid header field: no control
// characters, and one field for a field that is no list (RFC 3261 §7.3.1).
func TestParseReferToBadHeaderValue(t *testing.T) {
	tests := []struct{ uri, reason string }{
		{"sip:c@h?Subject=a%0D%0AVia:%20SIP/2.0/UDP%20evil", "Malformed Subject in Refer-To"},
		{"sip:c@h?Priority=%00", "Malformed Priority in Refer-To"},
		{"sip:c@h?Subject=a%7F", "Malformed Subject in Refer-To"},
		{"sip:c@h?Subject=a&s=b", "Multiple Subject in Refer-To"},
		{"sip:c@h?Require=replaces%2C", "Malformed Require in Refer-To"},
	}
	for _, tt := range tests {
		_, err := ParseReferTo(refer(t, "Refer-To: <"+tt.uri+">"), nil)
		wantError(t, tt.uri, err, 400, tt.reason, ErrBadReferTo)
	}
	// Left out, a header cannot harm: it is not checked.
	if _, err := ParseReferTo(refer(t, "Refer-To: <sip:c@h?X-Foo=a%0D%0A&Via=1&Via=2&Subject=a%09b>"), nil); err != nil {
		t.Error(err)
	}
}

// RFC 3261 §19.1.5: "An implementation MUST NOT send a request requiring
// an extension that it does not support."
func TestParseReferToRequire(t *testing.T) {
	for _, uri := range []string{"sip:c@h?Require=replaces", "sip:c@h?Require=REPLACES", "sip:c@h?require=replaces&Require=replaces"} {
		if _, err := ParseReferTo(refer(t, "Refer-To: <"+uri+">"), nil); err != nil {
			t.Errorf("%s: %v", uri, err)
		}
	}
	for _, uri := range []string{"sip:c@h?Require=100rel", "sip:c@h?Require=replaces%2C%20timer"} {
		_, err := ParseReferTo(refer(t, "Refer-To: <"+uri+">"), nil)
		wantError(t, uri, err, 403, "Refer-To requires an unsupported extension", ErrExtension)
	}
	if _, err := ParseReferTo(refer(t, "Refer-To: <sip:c@h?Require=replaces%2C%20timer%2C100rel>"), &Policy{Supported: []string{"100rel", "Timer"}}); err != nil {
		t.Errorf("supported extensions: %v", err)
	}
}

// replacesOf parses a REFER with the given Refer-To and returns its
// embedded Replaces.
func replacesOf(t *testing.T, referTo string) (sip.Replaces, *Target) {
	t.Helper()
	target, err := ParseReferTo(refer(t, "Refer-To: "+referTo), nil)
	if err != nil {
		t.Fatalf("%s: %v", referTo, err)
	}
	r, ok := target.Replaces(nil)
	if !ok || !target.HasReplaces() {
		t.Fatalf("%s: no Replaces", referTo)
	}
	return r, &target
}

// The attended transfers of RFC 5589 (lines marked allOneLine joined) and
// the Replaces example of RFC 3515 §2.1.
func TestParseReferToReplaces(t *testing.T) {
	tests := []struct {
		name, referTo, callID, toTag, fromTag, fields string
	}{
		{"RFC 3515 §2.1", "<sip:dave@denver.example.org?Replaces=12345%40192.168.118.3%3Bto-tag%3D12345%3Bfrom-tag%3D5FFE-3994>",
			"12345@192.168.118.3", "12345", "5FFE-3994", "Replaces: 12345@192.168.118.3;to-tag=12345;from-tag=5FFE-3994\r\n"},
		{"RFC 5589 §7.2 F5", "<sips:3ld812adkjw@biloxi.example.com;gr=3413kj2ha?Replaces=090459243588173445%3Bto-tag%3D7553452%3Bfrom-tag%3D31431>",
			"090459243588173445", "7553452", "31431", "Replaces: 090459243588173445;to-tag=7553452;from-tag=31431\r\n"},
		{"RFC 5589 §7.5 F3", "<sips:transfertarget@chicago.example.com?Replaces=090459243588173445%3Bto-tag%3D9m2n3wq%3Bfrom-tag%3D763231&Require=replaces>",
			"090459243588173445", "9m2n3wq", "763231", "Replaces: 090459243588173445;to-tag=9m2n3wq;from-tag=763231\r\nRequire: replaces\r\n"},
		{"RFC 5589 §7.6 F5", "<sips:transfertarget@client.chicago.example.com?Replaces=090459243588173445%3Bto-tag%3D9m2n3wq%3Bfrom-tag%3D763231>",
			"090459243588173445", "9m2n3wq", "763231", "Replaces: 090459243588173445;to-tag=9m2n3wq;from-tag=763231\r\n"},
		{"RFC 5589 §8 F5", "<sips:482n4z24kdg@chicago.example.com;gr=8594958?Replaces=090459243588173445%3Bto-tag%3D9m2n3wq%3Bfrom-tag%3D763231&Require=replaces>",
			"090459243588173445", "9m2n3wq", "763231", "Replaces: 090459243588173445;to-tag=9m2n3wq;from-tag=763231\r\nRequire: replaces\r\n"},
	}
	for _, tt := range tests {
		r, target := replacesOf(t, tt.referTo)
		if string(r.CallID) != tt.callID || string(r.ToTag) != tt.toTag || string(r.FromTag) != tt.fromTag || r.EarlyOnly {
			t.Errorf("%s: Replaces %q to-tag %q from-tag %q early %v", tt.name, r.CallID, r.ToTag, r.FromTag, r.EarlyOnly)
		}
		// The INVITE the transferee sends carries exactly that Replaces
		// (F6 of each flow).
		if got := string(target.AppendHeaderFields(nil)); got != tt.fields {
			t.Errorf("%s: AppendHeaderFields = %q, want %q", tt.name, got, tt.fields)
		}
	}
}

func TestParseReferToBadReplaces(t *testing.T) {
	tests := []struct{ referTo, reason string }{
		// RFC 5589 §7.3 F5 as printed: "from-tag3D763231" lacks its '%',
		// so the value has no from-tag.
		{"<sips:482n4z24kdg@chicago.example.com;gr=8594958?Replaces=592435881734450904%3Bto-tag%3D9m2n3wq%3Bfrom-tag3D763231>", "Malformed Replaces in Refer-To"},
		{"<sip:c@h?Replaces=>", "Malformed Replaces in Refer-To"},
		{"<sip:c@h?Replaces=a%3Bto-tag%3D1>", "Malformed Replaces in Refer-To"},
		// RFC 3891 §3: an INVITE with two Replaces gets a 400.
		{"<sip:c@h?Replaces=a%3Bto-tag%3D1%3Bfrom-tag%3D2&replaces=b%3Bto-tag%3D1%3Bfrom-tag%3D2>", "Multiple Replaces in Refer-To"},
	}
	for _, tt := range tests {
		_, err := ParseReferTo(refer(t, "Refer-To: "+tt.referTo), nil)
		wantError(t, tt.referTo, err, 400, tt.reason, ErrReplaces)
	}
	_, err := ParseReferTo(refer(t, "Refer-To: <sip:c@h?Replaces=a%3Bto-tag%3D1>"), nil)
	var pe *sip.ParseError
	if !errors.As(err, &pe) || !errors.Is(err, sip.ErrBadHeader) {
		t.Errorf("malformed Replaces: %v does not wrap the sip.ParseError", err)
	}
}

func mustURI(t testing.TB, s string) *sip.URI {
	t.Helper()
	u := new(sip.URI)
	if err := u.Parse([]byte(s)); err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return u
}

// The escaped forms printed in RFC 3515 §2.1 and RFC 5589 §7.x.
func TestAppendReferToReplaces(t *testing.T) {
	tests := []struct {
		target, callID, toTag, fromTag string
		earlyOnly                      bool
		want                           string
	}{
		{"sip:dave@denver.example.org", "12345@192.168.118.3", "12345", "5FFE-3994", false,
			"<sip:dave@denver.example.org?Replaces=12345%40192.168.118.3%3Bto-tag%3D12345%3Bfrom-tag%3D5FFE-3994>"},
		{"sips:3ld812adkjw@biloxi.example.com;gr=3413kj2ha", "090459243588173445", "7553452", "31431", false,
			"<sips:3ld812adkjw@biloxi.example.com;gr=3413kj2ha?Replaces=090459243588173445%3Bto-tag%3D7553452%3Bfrom-tag%3D31431>"},
		// RFC 5589 §7.3 F5 with the '%' its from-tag lacks.
		{"sips:482n4z24kdg@chicago.example.com;gr=8594958", "592435881734450904", "9m2n3wq", "763231", false,
			"<sips:482n4z24kdg@chicago.example.com;gr=8594958?Replaces=592435881734450904%3Bto-tag%3D9m2n3wq%3Bfrom-tag%3D763231>"},
		// A target with headers gets '&' (RFC 5589 §7.5 F3, in the other order).
		{"sips:transfertarget@chicago.example.com?Require=replaces", "090459243588173445", "9m2n3wq", "763231", false,
			"<sips:transfertarget@chicago.example.com?Require=replaces&Replaces=090459243588173445%3Bto-tag%3D9m2n3wq%3Bfrom-tag%3D763231>"},
		{"sip:bob@bobster.example.org", "425928@phone.example.org", "7743", "6472", true,
			"<sip:bob@bobster.example.org?Replaces=425928%40phone.example.org%3Bto-tag%3D7743%3Bfrom-tag%3D6472%3Bearly-only>"},
		// Call-ID word characters and tag token characters that hvalue
		// does not allow are escaped, '%' included.
		{"sip:h", `a"<b>{c}\d%e/f[g]?h:i+j(k)`, "x%y`z", "~!*'", false,
			`<sip:h?Replaces=a%22%3Cb%3E%7Bc%7D%5Cd%25e/f[g]?h:i+j(k)%3Bto-tag%3Dx%25y%60z%3Bfrom-tag%3D~!*'>`},
	}
	for _, tt := range tests {
		got := AppendReferToReplaces([]byte("Refer-To: "), mustURI(t, tt.target), tt.callID, tt.toTag, tt.fromTag, tt.earlyOnly)
		if string(got) != "Refer-To: "+tt.want {
			t.Errorf("AppendReferToReplaces(%s) = %q, want %q", tt.target, got, tt.want)
			continue
		}
		// Round trip: the referee recovers exactly the dialog.
		r, target := replacesOf(t, string(got[len("Refer-To: "):]))
		if string(r.CallID) != tt.callID || string(r.ToTag) != tt.toTag || string(r.FromTag) != tt.fromTag || r.EarlyOnly != tt.earlyOnly {
			t.Errorf("%s: round trip gives %q %q %q %v", tt.want, r.CallID, r.ToTag, r.FromTag, r.EarlyOnly)
		}
		if uri := target.AppendRequestURI(nil); !strings.HasPrefix(tt.target, string(uri)) || strings.Contains(string(uri), "?") {
			t.Errorf("%s: Request-URI %q", tt.want, uri)
		}
	}
	// Bytes and strings give the same; a Call-ID longer than the escaping
	// buffer too.
	long := strings.Repeat("0123456789@", 1)[:10] + strings.Repeat("x", 200) + "@h"
	a := AppendReferToReplaces(nil, mustURI(t, "sip:h"), long, "1", "2", false)
	b := AppendReferToReplaces(nil, mustURI(t, "sip:h"), []byte(long), []byte("1"), []byte("2"), false)
	if string(a) != string(b) || !strings.Contains(string(a), strings.Repeat("x", 200)+"%40h%3Bto-tag") {
		t.Errorf("long Call-ID: %q / %q", a, b)
	}
	if r, _ := replacesOf(t, string(a)); string(r.CallID) != long {
		t.Errorf("long Call-ID round trip: %q", r.CallID)
	}
}

func TestErrorType(t *testing.T) {
	_, err := ParseReferTo(refer(t, "Refer-To: <sip:c@h?Replaces=a>"), nil)
	var e *Error
	if !errors.As(err, &e) || e.Status != 400 || sip.StatusText(e.Status) != "Bad Request" {
		t.Fatalf("%v", err)
	}
	// The sentinel and the sip error behind it are both visible.
	if !errors.Is(err, ErrReplaces) || !errors.Is(err, sip.ErrBadHeader) || errors.Is(err, ErrBadReferTo) {
		t.Errorf("errors.Is on %v", err)
	}
	if got := err.Error(); got != "refer: bad Replaces in Refer-To: sip: missing to-tag at offset 1" {
		t.Errorf("Error() = %q", got)
	}
	if got := (&Error{Status: 403, Reason: "Forbidden"}).Error(); got != "refer: Forbidden" {
		t.Errorf("Error() without Err = %q", got)
	}
}

// The transferee's path allocates nothing: checking the REFER, reading the
// Replaces, writing the Request-URI and header fields of its INVITE; nor
// does the transferor's AppendReferToReplaces.
func TestZeroAllocs(t *testing.T) {
	m := refer(t, "Refer-To: \"Transfer Target\" <sips:482n4z24kdg@chicago.example.com;gr=8594958?Replaces=090459243588173445%3Bto-tag%3D9m2n3wq%3Bfrom-tag%3D763231&Require=replaces&Subject=transfer&X-Foo=1>\nReferred-By: <sips:transferor@atlanta.example.com>")
	target := mustURI(t, "sips:482n4z24kdg@chicago.example.com;gr=8594958")
	buf := make([]byte, 0, 1024)
	scratch := make([]byte, 0, 256)
	check := func(name string, f func()) {
		t.Helper()
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s: %v allocs per run, want 0", name, n)
		}
	}
	check("ParseReferTo", func() {
		tg, err := ParseReferTo(m, nil)
		if err != nil || !tg.HasReplaces() || tg.Dropped() != 1 {
			t.Fatal(err)
		}
	})
	tg, err := ParseReferTo(m, nil)
	if err != nil {
		t.Fatal(err)
	}
	check("Replaces", func() {
		var r sip.Replaces
		var ok bool
		if r, ok = tg.Replaces(scratch); !ok || string(r.ToTag) != "9m2n3wq" {
			t.Fatal(r, ok)
		}
	})
	check("AppendRequestURI", func() { buf = tg.AppendRequestURI(buf[:0]) })
	check("AppendHeaderFields", func() { buf = tg.AppendHeaderFields(buf[:0]) })
	n := 0
	check("EachHeader", func() {
		scratch = tg.EachHeader(scratch[:0], func(h sip.HeaderName, name, value []byte) { n++ })
	})
	check("AppendReferToReplaces", func() {
		buf = AppendReferToReplaces(buf[:0], target, "090459243588173445", "9m2n3wq", "763231", false)
	})
}

// FuzzReferTo checks that ParseReferTo never panics and refuses only with
// a 400 or 403 carrying a sentinel; that what it accepts yields header
// fields that parse; and that a Replaces, read back or written by
// AppendReferToReplaces from any Call-ID and tags, survives the round
// trip.
func FuzzReferTo(f *testing.F) {
	for _, s := range []string{
		"<sip:dave@denver.example.org?Replaces=12345%40192.168.118.3%3Bto-tag%3D12345%3Bfrom-tag%3D5FFE-3994>",
		"<sips:transfertarget@chicago.example.com?Replaces=090459243588173445%3Bto-tag%3D9m2n3wq%3Bfrom-tag%3D763231&Require=replaces>",
		"<sip:c@h;method=INVITE?Subject=a%20b&Via=x&body=y&Bo%64y=z&s=q&Call-Info=%3Chttp://h%3E>",
		`"a, b" <sip:c@h>;x="y,z", <sip:d@h>`,
		"sip:alice@atlanta.example.com", "tel:+1-201-555-0123", "http://www.ietf.org", "*", "",
	} {
		f.Add([]byte(s), []byte("a@b"), []byte("tag"))
	}
	policies := []*Policy{nil, {AllowTel: true, AllowOtherSchemes: true, AnyMethod: true, EmbeddedHeaders: RejectForbidden}, {EmbeddedHeaders: RejectDisallowed, Supported: []string{"100rel"}}}
	f.Fuzz(func(t *testing.T, value, callID, tag []byte) {
		var m sip.Message
		msg := "REFER sip:b@h SIP/2.0\r\nRefer-To: " + string(value) + "\r\nContent-Length: 0\r\n\r\n"
		if sip.Parse(&m, []byte(msg)) != nil {
			return
		}
		for _, p := range policies {
			target, err := ParseReferTo(&m, p)
			if err != nil {
				var e *Error
				if !errors.As(err, &e) || e.Status != 400 && e.Status != 403 || e.Reason == "" || e.Err == nil {
					t.Fatalf("%q: %v", value, err)
				}
				continue
			}
			if s := target.URI().Scheme; p == nil && s != sip.SchemeSIP && s != sip.SchemeSIPS {
				t.Fatalf("%q: scheme %v accepted", value, s)
			}
			fields := target.AppendHeaderFields(nil)
			var frag sip.Message
			if err := new(sip.Parser).ParseFragment(&frag, fields); err != nil || len(frag.Body()) != 0 {
				t.Fatalf("%q: header fields %q: %v", value, fields, err)
			}
			if r, ok := target.Replaces(nil); ok {
				again := AppendReferToReplaces(nil, &sip.URI{Scheme: sip.SchemeSIP, Host: []byte("h")}, r.CallID, r.ToTag, r.FromTag, r.EarlyOnly)
				roundTrip(t, again, r.CallID, r.ToTag, r.FromTag, r.EarlyOnly)
			} else if target.HasReplaces() {
				t.Fatalf("%q: HasReplaces but no Replaces", value)
			}
		}
		// Any Call-ID and tags Replaces accepts come back as written.
		var r sip.Replaces
		if r.Parse(sip.AppendReplaces(nil, callID, tag, tag, true)) == nil && string(r.CallID) == string(callID) && string(r.ToTag) == string(tag) {
			roundTrip(t, AppendReferToReplaces(nil, &sip.URI{Scheme: sip.SchemeSIPS, Host: []byte("h"), Headers: []byte("a=b")}, callID, tag, tag, true), callID, tag, tag, true)
		}
	})
}

// roundTrip checks that the Refer-To value v carries exactly the given
// Replaces.
func roundTrip(t *testing.T, v, callID, toTag, fromTag []byte, earlyOnly bool) {
	t.Helper()
	var m sip.Message
	if err := sip.Parse(&m, []byte("REFER sip:b@h SIP/2.0\r\nRefer-To: "+string(v)+"\r\n\r\n")); err != nil {
		t.Fatalf("%q: %v", v, err)
	}
	target, err := ParseReferTo(&m, nil)
	if err != nil {
		t.Fatalf("%q: %v", v, err)
	}
	r, ok := target.Replaces(nil)
	if !ok || string(r.CallID) != string(callID) || string(r.ToTag) != string(toTag) || string(r.FromTag) != string(fromTag) || r.EarlyOnly != earlyOnly {
		t.Fatalf("%q: Replaces %+v, %v; want %q %q %q %v", v, r, ok, callID, toTag, fromTag, earlyOnly)
	}
}

// Issue 15 item 3: each embedded header is carried into the request to the
// target only as the default policy allows (RFC 3261 §19.1.5, RFC 3515
// §5), header by header; the REFER's own Referred-By is the one copied
// (RFC 3892 §3).
func TestEmbeddedHeaderEach(t *testing.T) {
	copied := map[string]string{
		"Replaces":            "abc;to-tag=1;from-tag=2",
		"Require":             "replaces",
		"Accept-Contact":      "*;audio",
		"Reject-Contact":      "*;video",
		"Request-Disposition": "proxy",
		"Subject":             "hello",
		"Priority":            "urgent",
		"Call-Info":           "<http://www.example.com/alice/photo.jpg>;purpose=icon",
		"Alert-Info":          "<http://www.example.com/sounds/moo.wav>",
		"In-Reply-To":         "70710@saturn.bell-tel.com",
	}
	dropped := []string{"Via", "From", "To", "Call-ID", "CSeq", "Route", "Record-Route", "Contact", "Max-Forwards",
		"Content-Type", "Content-Length", "Content-Encoding", "MIME-Version", "body", "Authorization",
		"Proxy-Authorization", "Proxy-Require", "Expires", "Event", "Date", "Timestamp", "Accept", "Accept-Encoding",
		"Accept-Language", "Allow", "Allow-Events", "Supported", "User-Agent", "Organization", "Target-Dialog",
		"Referred-By", "X-Unknown"}
	escape := func(s string) string {
		r := strings.NewReplacer("%", "%25", ";", "%3B", "<", "%3C", ">", "%3E", "@", "%40", " ", "%20", "*", "%2A", ":", "%3A", "/", "%2F", "&", "%26", "=", "%3D", "?", "%3F", ",", "%2C")
		return r.Replace(s)
	}
	for name, value := range copied {
		m := refer(t, "Refer-To: <sip:c@h?"+name+"="+escape(value)+">\nReferred-By: <sip:a@h>")
		target, err := ParseReferTo(m, nil)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		got := string(target.AppendHeaderFields(nil))
		if !strings.Contains(got, name+": "+value+"\r\n") {
			t.Errorf("%s not copied: %q", name, got)
		}
		if !strings.HasPrefix(got, "Referred-By: <sip:a@h>\r\n") {
			t.Errorf("%s: Referred-By not the REFER's: %q", name, got)
		}
	}
	for _, name := range dropped {
		m := refer(t, "Refer-To: <sip:c@h?"+name+"=x>\nReferred-By: <sip:a@h>")
		target, err := ParseReferTo(m, nil)
		if err != nil {
			t.Errorf("%s: %v (DropForbidden drops, it does not refuse)", name, err)
			continue
		}
		if got := string(target.AppendHeaderFields(nil)); got != "Referred-By: <sip:a@h>\r\n" {
			t.Errorf("%s copied: %q", name, got)
		}
	}
}

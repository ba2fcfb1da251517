package sip

import (
	"errors"
	"fmt"
	"testing"
)

func parseEvent(t *testing.T, s string) *Event {
	t.Helper()
	e := new(Event)
	if err := e.Parse([]byte(s)); err != nil {
		t.Fatalf("Event %q: %v", s, err)
	}
	return e
}

func TestEventParse(t *testing.T) {
	tests := []struct{ in, typ, id, params string }{
		{"refer", "refer", "", ""},
		{"refer;id=93809824", "refer", "93809824", "id=93809824"},
		{" refer ; id = 7 ; foo", "refer", "7", "id = 7 ; foo"},
		{"presence.winfo", "presence.winfo", "", ""},
		{"dialog;ID=a1", "dialog", "a1", "ID=a1"},
		{"x-!%*_+`'~", "x-!%*_+`'~", "", ""},
	}
	for _, tt := range tests {
		e := parseEvent(t, tt.in)
		if string(e.Type) != tt.typ || string(e.ID) != tt.id || string(e.Params) != tt.params || (e.ID == nil) != (tt.id == "") {
			t.Errorf("Event %q = type %q id %q params %q, want %q %q %q", tt.in, e.Type, e.ID, e.Params, tt.typ, tt.id, tt.params)
		}
	}
	// RFC 6665 §8.4: event-type = event-package *( "." event-template ),
	// each a token-nodot; "id" EQUAL token.
	for _, in := range []string{"", ".refer", "refer.", "presence..winfo", "refer;", "refer;id=", "refer;id=1;id=2", "refer id=1", "re fer", "<refer>"} {
		var e Event
		err := e.Parse([]byte(in))
		var pe *ParseError
		if !errors.As(err, &pe) || !errors.Is(err, ErrBadHeader) {
			t.Errorf("Event %q: %v, want ErrBadHeader", in, err)
		}
	}
	// Event types compare byte by byte (RFC 6665 §8.2.1).
	e := parseEvent(t, "refer;id=1")
	if !e.Is("refer") || e.Is("Refer") || e.Is("refer;id=1") {
		t.Error("Is compares the event type byte by byte")
	}
}

// RFC 6665 §8.2.1: event-type and id compare byte by byte; an Event with an
// id never matches one without; other parameters do not count.
func TestEventMatch(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"refer", "refer", true},
		{"refer;id=93809824", "refer;id=93809824", true},
		{"refer;id=1;foo=bar", "refer;id=1;baz", true},
		{"refer;id=1", "refer ; ID=1", true}, // parameter names are case-insensitive
		{"presence.winfo", "presence.winfo", true},
		{"refer", "Refer", false},
		{"refer;id=abc", "refer;id=ABC", false},
		{"refer;id=1", "refer;id=01", false},
		{"refer;id=1", "refer", false},
		{"refer", "refer;id=1", false},
		{"refer;id=1", "dialog;id=1", false},
		{"presence", "presence.winfo", false},
	}
	for _, tt := range tests {
		a, b := parseEvent(t, tt.a), parseEvent(t, tt.b)
		if got := a.Match(b); got != tt.want {
			t.Errorf("%q.Match(%q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
		if got := b.Match(a); got != tt.want {
			t.Errorf("%q.Match(%q) = %v, want %v", tt.b, tt.a, got, tt.want)
		}
	}
}

func TestMessageEvent(t *testing.T) {
	var m Message
	if err := Parse(&m, crlf("NOTIFY sip:a@h SIP/2.0\no: refer;id=42\nSubscription-State: terminated;reason=noresource\n\n")); err != nil {
		t.Fatal(err)
	}
	e, err := m.Event() // compact form "o" (RFC 6665 §8.2.1)
	if err != nil || !e.Is("refer") || string(e.ID) != "42" {
		t.Errorf("Event %+v %v", e, err)
	}
	s, err := m.SubscriptionState()
	if err != nil || !s.Is("Terminated") || string(s.Reason) != "noresource" || s.HasExpires {
		t.Errorf("Subscription-State %+v %v", s, err)
	}
	if err := Parse(&m, crlf("NOTIFY sip:a@h SIP/2.0\nSubscription-State: active;expires=60;retry-after=5\n\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Event(); !errors.Is(err, ErrNotFound) {
		t.Errorf("absent Event: %v, want ErrNotFound", err)
	}
	s, err = m.SubscriptionState()
	if err != nil || !s.Is("active") || !s.HasExpires || s.Expires != 60 || !s.HasRetryAfter || s.RetryAfter != 5 {
		t.Errorf("Subscription-State %+v %v", s, err)
	}
	for _, bad := range []string{"", ";expires=1", " ;reason=noresource", "active garbage", "active,terminated", "\"active\""} {
		var st SubscriptionState
		if err := st.Parse([]byte(bad)); !errors.Is(err, ErrBadHeader) {
			t.Errorf("Subscription-State %q: %v, want ErrBadHeader", bad, err)
		}
	}
}

// A Subscription-State whose state is clear but whose parameters are not is
// understood by its state, every parameter dropped (an unknown reason counts
// as none, RFC 6665 §4.1.3). linphone 5.1 ends its refer subscriptions with
// "terminated;reason=reason=noresource".
func TestSubscriptionStateBadParams(t *testing.T) {
	for _, tt := range []struct{ in, state string }{
		{"terminated;reason=reason=noresource", "terminated"},
		{"terminated ; reason=noresource;reason=x=y;retry-after=5", "terminated"},
		{"active;expires=x", "active"},
		{"active;expires=4294967296", "active"},
		{"active;expires=60;retry-after=", "active"},
		{"active;;", "active"},
		{"active;", "active"},
		{"active; ", "active"},
		{"pending;expires=60;", "pending"},
	} {
		var st SubscriptionState
		err := st.Parse([]byte(tt.in))
		if err != nil || string(st.State) != tt.state || !st.BadParams ||
			st.Reason != nil || st.HasExpires || st.Expires != 0 || st.HasRetryAfter || st.RetryAfter != 0 || st.Params != nil {
			t.Errorf("Subscription-State %q = %+v, %v; want state %q, BadParams, nothing else", tt.in, st, err, tt.state)
		}
	}
	var st SubscriptionState
	if err := st.Parse([]byte("terminated;reason=noresource")); err != nil || st.BadParams || string(st.Reason) != "noresource" {
		t.Errorf("well-formed Subscription-State = %+v, %v; want reason noresource, not BadParams", st, err)
	}

	// Validate lets the NOTIFY through; a state it cannot read still fails.
	const notify = "NOTIFY sip:a@127.0.0.1:5070 SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1\nTo: <sip:a@127.0.0.1>;tag=1\nFrom: <sip:b@127.0.0.1>;tag=2\nCall-ID: c\nCSeq: 3 NOTIFY\nEvent: refer\nSubscription-State: %s\n\n"
	var m Message
	if err := Parse(&m, crlf(fmt.Sprintf(notify, "terminated;reason=reason=noresource"))); err != nil {
		t.Fatal(err)
	}
	if err := m.Validate(); err != nil {
		t.Errorf("Validate, Subscription-State terminated;reason=reason=noresource: %v", err)
	}
	if s, err := m.SubscriptionState(); err != nil || !s.Is("terminated") || !s.BadParams {
		t.Errorf("SubscriptionState() = %+v, %v", s, err)
	}
	if err := Parse(&m, crlf(fmt.Sprintf(notify, ";reason=noresource"))); err != nil {
		t.Fatal(err)
	}
	if err := m.Validate(); !errors.Is(err, ErrBadHeader) {
		t.Errorf("Validate, Subscription-State without a state: %v, want ErrBadHeader", err)
	}
}

// RFC 4488 §7.1: Refer-Sub = "Refer-Sub" HCOLON refer-sub-value
// *(SEMI exten); refer-sub-value = "true" / "false"; exten = generic-param.
func TestReferSub(t *testing.T) {
	tests := []struct {
		value         string
		want, present bool
		wantErr       bool
	}{
		{"", false, false, false}, // no Refer-Sub field
		{"true", true, true, false},
		{"false", false, true, false},
		{"FALSE", false, true, false}, // ABNF literals are case-insensitive
		{"false;x=1", false, true, false},
		{"true ; foo ; bar=\"a;b\"", true, true, false},
		{"yes", false, true, true},
		{"true false", false, true, true},
		{"true;", false, true, true},
		{"true;x=1;x=2", false, true, true},
		{";x=1", false, true, true},
	}
	for _, tt := range tests {
		msg := "REFER sip:b@h SIP/2.0\n"
		if tt.present {
			msg += "Refer-Sub: " + tt.value + "\n"
		}
		var m Message
		if err := Parse(&m, crlf(msg+"\n")); err != nil {
			t.Fatal(err)
		}
		got, present, err := m.ReferSub()
		if got != tt.want || present != tt.present || (err != nil) != tt.wantErr {
			t.Errorf("Refer-Sub %q = %v, %v, %v; want %v, %v, error %v", tt.value, got, present, err, tt.want, tt.present, tt.wantErr)
		}
		if err != nil && !errors.Is(err, ErrBadHeader) {
			t.Errorf("Refer-Sub %q: %v, want ErrBadHeader", tt.value, err)
		}
	}
	// At most one Refer-Sub (Validate).
	var m Message
	if err := Parse(&m, crlf("REFER sip:b@h SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nTo: <sip:b@h>\nFrom: <sip:a@h>;tag=1\nCall-ID: c\nCSeq: 1 REFER\nRefer-To: <sip:c@h>\nRefer-Sub: false\nRefer-Sub: true\n\n")); err != nil {
		t.Fatal(err)
	}
	if err := m.Validate(); !errors.Is(err, ErrBadHeader) {
		t.Errorf("two Refer-Sub: %v, want ErrBadHeader", err)
	}
}

// RFC 3515 §2.1: Refer-To = ("Refer-To" / "r") HCOLON ( name-addr /
// addr-spec ) *(SEMI generic-param); the examples of §2.1.
func TestReferTo(t *testing.T) {
	tests := []struct {
		field     string
		bracketed bool
		scheme    Scheme
		uri       string
		check     func(t *testing.T, n *NameAddr)
	}{
		{"Refer-To: sip:alice@atlanta.example.com", false, SchemeSIP, "sip:alice@atlanta.example.com", nil},
		{"Refer-To: <sip:dave@denver.example.org?Replaces=12345%40192.168.118.3%3Bto-tag%3D12345%3Bfrom-tag%3D5FFE-3994>", true, SchemeSIP,
			"sip:dave@denver.example.org?Replaces=12345%40192.168.118.3%3Bto-tag%3D12345%3Bfrom-tag%3D5FFE-3994",
			func(t *testing.T, n *NameAddr) {
				v, ok := n.URI.Header("Replaces")
				if !ok {
					t.Fatal("no Replaces header in the URI")
				}
				if got, err := Unescape(nil, v); err != nil || string(got) != "12345@192.168.118.3;to-tag=12345;from-tag=5FFE-3994" {
					t.Errorf("Replaces = %q, %v", got, err)
				}
			}},
		{"Refer-To: <sip:carol@cleveland.example.org;method=SUBSCRIBE>", true, SchemeSIP, "sip:carol@cleveland.example.org;method=SUBSCRIBE",
			func(t *testing.T, n *NameAddr) {
				if v, _ := n.URI.Param("method"); string(v) != "SUBSCRIBE" {
					t.Errorf("method = %q", v)
				}
			}},
		{"Refer-To: http://www.ietf.org", false, SchemeOther, "http://www.ietf.org", nil},
		// The second example, with its line joined and its '=' unescaped.
		{"Refer-To: <sip:bob@biloxi.example.net?Accept-Contact=sip:bobsdesk.biloxi.example.net&Call-ID=55432%40alicepc.atlanta.example.com>", true, SchemeSIP,
			"sip:bob@biloxi.example.net?Accept-Contact=sip:bobsdesk.biloxi.example.net&Call-ID=55432%40alicepc.atlanta.example.com",
			func(t *testing.T, n *NameAddr) {
				if v, _ := n.URI.Header("call-id"); string(v) != "55432%40alicepc.atlanta.example.com" {
					t.Errorf("Call-ID = %q", v)
				}
			}},
		// Compact form, display name and generic-params.
		{`r: "Carol" <sip:carol@chicago.example.com>;x-param=1`, true, SchemeSIP, "sip:carol@chicago.example.com",
			func(t *testing.T, n *NameAddr) {
				if string(n.DisplayName) != "Carol" || !n.Params.Has("x-param") {
					t.Errorf("display name %q params %q", n.DisplayName, n.Params)
				}
			}},
		// baresip sends a bare addr-spec with a port.
		{"Refer-To: sip:carol@127.0.0.1:5062", false, SchemeSIP, "sip:carol@127.0.0.1:5062", nil},
	}
	for _, tt := range tests {
		var m Message
		if err := Parse(&m, crlf("REFER sip:b@h SIP/2.0\n"+tt.field+"\n\n")); err != nil {
			t.Fatalf("%s: %v", tt.field, err)
		}
		n, err := m.ReferTo()
		if err != nil {
			t.Errorf("%s: %v", tt.field, err)
			continue
		}
		if n.Bracketed != tt.bracketed || n.URI.Scheme != tt.scheme || string(n.URI.Raw) != tt.uri {
			t.Errorf("%s: bracketed %v scheme %v URI %q", tt.field, n.Bracketed, n.URI.Scheme, n.URI.Raw)
		}
		if tt.check != nil {
			tt.check(t, &n)
		}
	}

	bad := []string{
		// As printed in §2.1, the second example escapes the '=' of its
		// second header, which RFC 3261 §25 (header = hname "=" hvalue)
		// does not allow.
		"Refer-To: <sip:bob@biloxi.example.net?Accept-Contact=sip:bobsdesk.biloxi.example.net&Call-ID%3D55432%40alicepc.atlanta.example.com>",
		// RFC 3261 §20: a URI with '?' (or ',') MUST be in angle brackets.
		"Refer-To: sip:dave@denver.example.org?Replaces=12345%40h%3Bto-tag%3D1%3Bfrom-tag%3D2",
		"Refer-To: <sip:carol@chicago.example.com",
		"Refer-To: <>",
		"Refer-To: <sip:a@h>;tag=1;tag=2",
	}
	for _, field := range bad {
		var m Message
		if err := Parse(&m, crlf("REFER sip:b@h SIP/2.0\n"+field+"\n\n")); err != nil {
			t.Fatalf("%s: %v", field, err)
		}
		if _, err := m.ReferTo(); !errors.Is(err, ErrBadHeader) {
			t.Errorf("%s: %v, want ErrBadHeader", field, err)
		}
	}

	// Absent, or more than one: the REFER recipient answers 400 (RFC 3515
	// §2.4.1); the parser reports what it finds and leaves the rule to it.
	var m Message
	if err := Parse(&m, crlf("REFER sip:b@h SIP/2.0\n\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := m.ReferTo(); !errors.Is(err, ErrNotFound) {
		t.Errorf("no Refer-To: %v, want ErrNotFound", err)
	}
	if err := Parse(&m, crlf("REFER sip:b@h SIP/2.0\nRefer-To: <sip:c@h>\nr: <sip:d@h>\n\n")); err != nil {
		t.Fatal(err)
	}
	if n := m.Count(HeaderReferTo); n != 2 {
		t.Errorf("Count(Refer-To) = %d, want 2", n)
	}
	if n, err := m.ReferTo(); err != nil || string(n.URI.Raw) != "sip:c@h" {
		t.Errorf("ReferTo() = %q, %v; want the first", n.URI.Raw, err)
	}
}

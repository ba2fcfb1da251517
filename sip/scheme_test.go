package sip

import (
	"errors"
	"testing"
)

// RFC 3261 §8.2.2.1: a Request-URI whose scheme the UAS does not support
// SHOULD be rejected with 416. sip and sips are served; tel is a scheme the
// stack knows (RFC 3966), so whether the UA serves that number is the §8.2.2.1
// 404 question for the core, not a 416; any other scheme is unsupported.
func TestRequestURISchemeUnsupported416(t *testing.T) {
	for _, tc := range []struct {
		ruri string
		want error
	}{
		{"foo:bar", ErrUnsupportedScheme},
		{"nobodyKnowsThisScheme:totallyopaquecontent", ErrUnsupportedScheme},
		{"soap.beep://192.0.2.103:3002", ErrUnsupportedScheme},
		{"sip:bob@example.com", nil},
		{"SIPS:bob@example.com", nil},
		{"tel:+1-201-555-0123", nil},
	} {
		msg := crlf("OPTIONS " + tc.ruri + " SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nTo: <sip:a@b>\nFrom: <sip:c@d>;tag=1\nCall-ID: x\nCSeq: 1 OPTIONS\nContent-Length: 0\n\n")
		var m Message
		if err := Parse(&m, msg); err != nil {
			t.Fatalf("%s: Parse: %v", tc.ruri, err)
		}
		err := m.Validate()
		if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("%s: Validate = %v, want %v", tc.ruri, err, tc.want)
			continue
		}
		if tc.want == nil {
			continue
		}
		var pe *ParseError
		if !errors.As(err, &pe) || pe.StatusCode() != 416 || pe.ReasonPhrase() != "Unsupported URI Scheme" {
			t.Errorf("%s: %v: status %d %q, want 416 Unsupported URI Scheme", tc.ruri, err, pe.StatusCode(), pe.ReasonPhrase())
		}
	}
	// A sipfrag carries a request line it does not ask anyone to serve.
	var f Message
	var p Parser
	if err := p.ParseFragment(&f, crlf("INVITE foo:bar SIP/2.0\n")); err != nil {
		t.Fatal(err)
	}
	if err := f.Validate(); err != nil {
		t.Errorf("sipfrag: Validate = %v", err)
	}
}

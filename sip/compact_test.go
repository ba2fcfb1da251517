package sip

import (
	"strings"
	"testing"
)

// ianaCompact is the complete list of compact forms in the IANA "Header
// Fields" registry of the SIP parameters (RFC 3261 §7.3.3 and the RFCs
// that added one).
var ianaCompact = map[string]string{
	"a": "Accept-Contact",      // RFC 3841
	"b": "Referred-By",         // RFC 3892
	"c": "Content-Type",        // RFC 3261
	"d": "Request-Disposition", // RFC 3841
	"e": "Content-Encoding",    // RFC 3261
	"f": "From",                // RFC 3261
	"i": "Call-ID",             // RFC 3261
	"j": "Reject-Contact",      // RFC 3841
	"k": "Supported",           // RFC 3261
	"l": "Content-Length",      // RFC 3261
	"m": "Contact",             // RFC 3261
	"n": "Identity-Info",       // RFC 4474
	"o": "Event",               // RFC 6665
	"r": "Refer-To",            // RFC 3515
	"s": "Subject",             // RFC 3261
	"t": "To",                  // RFC 3261
	"u": "Allow-Events",        // RFC 6665
	"v": "Via",                 // RFC 3261
	"x": "Session-Expires",     // RFC 4028
	"y": "Identity",            // RFC 8224
}

// RFC 3261 §7.3.3: implementations MUST accept both the long and short
// forms of each header name. A field sent in compact form is found by its
// long name, and the other way round, for every compact form IANA lists.
func TestCompactFormsMustBeAcceptedLikeLongForms(t *testing.T) {
	for c, long := range ianaCompact {
		if got, want := LookupHeader([]byte(c)), LookupHeader([]byte(long)); got == HeaderOther || got != want {
			t.Errorf("LookupHeader(%q) = %v, LookupHeader(%q) = %v: want the same known name", c, got, long, want)
			continue
		}
		if h := LookupHeader([]byte(long)); h.Compact() != c[0] || h.String() != long {
			t.Errorf("%s: Compact %q String %q", long, h.Compact(), h.String())
		}
		for _, sent := range []string{c, strings.ToUpper(c), long} {
			msg := crlf("OPTIONS sip:a@b SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nTo: <sip:a@b>\nFrom: <sip:c@d>;tag=1\nCall-ID: x\nCSeq: 1 OPTIONS\n" +
				sent + ": v1\nContent-Length: 0\n\n")
			if c == "l" || c == "c" || c == "e" || c == "v" || c == "f" || c == "t" || c == "i" {
				continue // framing and mandatory fields: covered by the torture tests
			}
			var m Message
			if err := Parse(&m, msg); err != nil {
				t.Fatalf("%s: %v", sent, err)
			}
			for _, ask := range []string{long, strings.ToLower(long), c} {
				if got := string(m.GetName(ask)); got != "v1" {
					t.Errorf("sent %q, GetName(%q) = %q, want v1", sent, ask, got)
				}
			}
		}
	}
}

package sip

import "testing"

// Be liberal in what you receive: hostnames with an underscore, which RFC
// 3261 §25 hostname excludes but which DNS names and devices in the wild
// carry (sip:bob@my_host.local), parse in URIs, Contact, Via sent-by and
// Via received, so a 200 carrying one is not thrown away. The underscore
// delimits nothing in a URI, so framing is unchanged.
func TestHostnameWithUnderscoreAccepted(t *testing.T) {
	for _, s := range []string{"sip:bob@my_host.local", "sip:my_host.local:5060;transport=tcp", "sips:_sip._tcp.example.com", "sip:a_b"} {
		var u URI
		if err := u.Parse([]byte(s)); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	resp := crlf("SIP/2.0 200 OK\nVia: SIP/2.0/UDP my_host.local:5060;branch=z9hG4bK1;received=192.0.2.1\n" +
		"To: <sip:bob@example.com>;tag=b\nFrom: <sip:alice@example.com>;tag=a\nCall-ID: x\nCSeq: 1 INVITE\n" +
		"Contact: <sip:bob@my_host.local>\nRecord-Route: <sip:proxy_1.example.com;lr>\nContent-Length: 0\n\n")
	var m Message
	if err := Parse(&m, resp); err != nil {
		t.Fatal(err)
	}
	if err := m.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	// Still a hostname: labels keep their other rules.
	for _, s := range []string{"sip:-a_b.com", "sip:a_b.123", "sip:a b"} {
		var u URI
		if err := u.Parse([]byte(s)); err == nil {
			t.Errorf("%s: parsed", s)
		}
	}
}

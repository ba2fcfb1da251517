// Tests of the flags of "demo ua": what parses, what is refused and why,
// and the help text.

package main

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"net/netip"
	"regexp"
	"testing"
	"time"

	"github.com/sipxfer/sipxfer/dialog"
	"github.com/sipxfer/sipxfer/transport"
)

func TestParseUAFlags(t *testing.T) {
	f, err := parseUAFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if f.listen.String() != "127.0.0.1:5070" || f.proto != transport.UDP || f.user != "bob" || f.duration != 0 || f.verbose ||
		f.answerCode != 200 || f.ring || f.call != "" || f.maxCalls != 1 || f.callRate != 10 || f.hold != 0 ||
		!f.acceptRefer || f.referSubIgn || f.rfc3515 || f.acceptOut || f.transferTo != "" || f.attended || f.noReferSub || f.outOfDialog ||
		f.udpReaders != 1 {
		t.Errorf("defaults: %+v", f)
	}
	f, err = parseUAFlags([]string{"-listen", "[::1]:5080", "-transport", "TLS", "-user", "carol", "-duration", "2s", "-v",
		"-answer-code", "486", "-ring", "-call", "sip:bob@[::1]:5070", "-max-calls", "200", "-call-rate", "50", "-hold", "1.5s", "-udp-readers", "2"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if f.listen.String() != "[::1]:5080" || f.proto != transport.TLS || f.user != "carol" || f.duration != 2*time.Second || !f.verbose ||
		f.answerCode != 486 || !f.ring || f.call != "sip:bob@[::1]:5070" || f.maxCalls != 200 || f.callRate != 50 || f.hold != 1500*time.Millisecond ||
		f.udpReaders != 2 {
		t.Errorf("set: %+v", f)
	}
	f, err = parseUAFlags([]string{"-accept-refer=false", "-refer-sub", "ignore", "-rfc3515", "-accept-outside", "-call", "sip:bob@127.0.0.1:5070",
		"-transfer-to", "sip:carol@127.0.0.1:5063", "-attended", "-norefersub", "-out-of-dialog", "-proxy", "sip:127.0.0.1:5060;lr"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if f.acceptRefer || !f.referSubIgn || !f.rfc3515 || !f.acceptOut || f.transferTo != "sip:carol@127.0.0.1:5063" || !f.attended || !f.noReferSub || !f.outOfDialog ||
		f.proxy != "sip:127.0.0.1:5060;lr" {
		t.Errorf("transfer flags: %+v", f)
	}
	// Host names are located by RFC 3263 now: accepted in -call,
	// -transfer-to and -proxy.
	f, err = parseUAFlags([]string{"-call", "sip:bob@localhost:5070", "-transfer-to", "sips:carol@example.test", "-proxy", "sip:proxy.example.com;lr",
		"-resolver", "127.0.0.1:5353", "-advertise", "pbx.example.test:5999", "-tls-cert", "c.pem", "-tls-key", "k.pem", "-tls-ca", "ca.pem"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if f.resolver != netip.MustParseAddrPort("127.0.0.1:5353") || f.advertise != "pbx.example.test:5999" || f.tlsCert != "c.pem" || f.tlsKey != "k.pem" || f.tlsCA != "ca.pem" {
		t.Errorf("location flags: %+v", f)
	}
	if f, err := parseUAFlags([]string{"-resolver", "::1"}, io.Discard); err != nil || f.resolver != netip.MustParseAddrPort("[::1]:53") {
		t.Errorf("-resolver ::1: %v %v, want port 53", f, err)
	}
	lf, err := parseUAFlags([]string{"-resolver", "127.0.0.1:5353", "-advertise", "pbx.example.test:5999"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var cfg dialog.Config
	if err := locationConfig(lf, &cfg); err != nil || cfg.Locator == nil || cfg.Transport.Host != "pbx.example.test" || cfg.Transport.Port != 5999 {
		t.Errorf("locationConfig: %v, Locator %v, Host %q, Port %d", err, cfg.Locator, cfg.Transport.Host, cfg.Transport.Port)
	}
	if err := locationConfig(f, &cfg); err == nil {
		t.Error("locationConfig with missing certificate files: no error")
	}
	if f.register != "" || f.registerExpires != time.Hour || f.authUser != "" || f.credentials() != nil {
		t.Errorf("registration defaults: %+v", f)
	}
	f, err = parseUAFlags([]string{"-register", "sip:127.0.0.1:5060", "-register-expires", "60s", "-auth-user", "alice", "-auth-password", "pw"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if f.register != "sip:127.0.0.1:5060" || f.registerExpires != time.Minute || f.authUser != "alice" || f.authPassword != "pw" || f.credentials() == nil {
		t.Errorf("registration flags: %+v", f)
	}
	t.Setenv("SIPXFER_PASSWORD", "from-env")
	if f, err = parseUAFlags([]string{"-auth-user", "alice"}, io.Discard); err != nil || f.authPassword != "from-env" {
		t.Errorf("SIPXFER_PASSWORD: %v %+v", err, f)
	}
	if f, err = parseUAFlags([]string{"-auth-user", "alice", "-auth-password", "flag"}, io.Discard); err != nil || f.authPassword != "flag" {
		t.Errorf("-auth-password over SIPXFER_PASSWORD: %v %+v", err, f)
	}
	for _, args := range [][]string{
		{"-transport", "sctp"},
		{"-listen", "localhost:5070"},
		{"extra"},
		{"-answer-code", "180"},
		{"-answer-code", "202"},
		{"-answer-code", "700"},
		{"-resolver", "dns.example.com:53"},
		{"-advertise", "sip:host"},
		{"-advertise", "host:port"},
		{"-tls-cert", "a.pem"}, // without -tls-key
		{"-call", "tel:+15551234"},
		{"-call", "bob"},
		{"-max-calls", "-1"},
		{"-call-rate", "0"},
		{"-call-rate", "20000"},
		{"-hold", "-1s"},
		{"-udp-readers", "0"},
		{"-udp-readers", "65"},
		{"-refer-sub", "maybe"},
		{"-transfer-to", "sip:carol@127.0.0.1:5063"}, // without -call
		{"-call", "sip:bob@127.0.0.1", "-transfer-to", "tel:+15551234"},
		{"-attended"},
		{"-norefersub"},
		{"-out-of-dialog"},
		{"-call", "sip:bob@127.0.0.1", "-transfer-to", "sip:carol@127.0.0.1:5063", "-refer-to-uri", "sip:svc@127.0.0.1"}, // without -attended
		{"-call", "sip:bob@127.0.0.1", "-transfer-to", "sip:carol@127.0.0.1:5063", "-attended", "-refer-to-uri", "tel:+15551234"},
		{"-proxy", "sip:127.0.0.1:5060"}, // a strict router
		{"-register", "tel:+15551234"},
		{"-register-expires", "0s"},
		{"-session-expires", "30s"},
		{"-auth-password", "secret"}, // without -auth-user
	} {
		if _, err := parseUAFlags(args, io.Discard); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}

// TestUAHelp: -h documents every flag.
func TestUAHelp(t *testing.T) {
	var out bytes.Buffer
	if _, err := parseUAFlags([]string{"-h"}, &out); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err %v", err)
	}
	for _, name := range []string{"listen", "transport", "user", "duration", "v", "debug", "answer-code", "ring", "call", "max-calls", "call-rate", "hold",
		"accept-refer", "refer-sub", "rfc3515", "accept-outside", "transfer-to", "attended", "norefersub", "out-of-dialog", "proxy", "memprofile", "cpuprofile",
		"resolver", "advertise", "tls-cert", "tls-key", "tls-ca",
		"register", "register-expires", "auth-user", "auth-password", "session-expires", "udp-readers"} {
		if !regexp.MustCompile(`\n  -` + name + `[ \t\n]`).MatchString(out.String()) {
			t.Errorf("-h does not list -%s", name)
		}
	}
}

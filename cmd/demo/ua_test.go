package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transaction"
	"github.com/sipxfer/sipxfer/transport"
)

// TestUACore sends each kind of request to the UA core over an in-memory
// network and checks the answer the policy of uaCore gives.
func TestUACore(t *testing.T) {
	clock := transport.NewFakeClock(time.Unix(0, 0))
	network := transport.NewNetwork(clock, 1)
	quiet := slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))
	var out bytes.Buffer
	core := &uaCore{events: &eventWriter{enc: json.NewEncoder(&out)}, verbose: true, log: quiet}
	uaLayer, uaMgr := newStack(transport.Config{Clock: clock, Logger: quiet}, core)
	defer uaLayer.Close()
	defer uaMgr.Close()
	uaAddr, err := uaLayer.ListenMem(network, transport.Addr{Proto: transport.UDP, AddrPort: netip.MustParseAddrPort("192.0.2.4:5070")})
	if err != nil {
		t.Fatal(err)
	}
	contact := contactHeader("bob", uaAddr)
	core.contact.Store(&contact)

	peerLayer, peer := newStack(transport.Config{Clock: clock, Logger: quiet}, nil)
	defer peerLayer.Close()
	defer peer.Close()
	if _, err := peerLayer.ListenMem(network, transport.Addr{Proto: transport.UDP, AddrPort: netip.MustParseAddrPort("192.0.2.1:5060")}); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		method string
		status int
		want   map[sip.HeaderName]string
	}{
		{"OPTIONS", 200, map[sip.HeaderName]string{
			sip.HeaderAllow:     allowAdvertised,
			sip.HeaderAccept:    acceptTypes,
			sip.HeaderSupported: supportedExts,
			sip.HeaderContact:   "<sip:bob@192.0.2.4:5070>",
		}},
		{"MESSAGE", 200, nil},
		{"INVITE", 405, map[sip.HeaderName]string{sip.HeaderAllow: allowNow}},
		{"REFER", 405, map[sip.HeaderName]string{sip.HeaderAllow: allowNow}},
		{"REGISTER", 405, map[sip.HeaderName]string{sip.HeaderAllow: allowNow}},
		{"FROBNICATE", 501, map[sip.HeaderName]string{sip.HeaderAllow: allowNow}},
	}
	for i, tt := range tests {
		req := sip.AppendRequestLine(nil, tt.method, "sip:bob@192.0.2.4:5070")
		req = sip.AppendHeader(req, sip.HeaderMaxForwards, "70")
		req = sip.AppendHeader(req, sip.HeaderFrom, "<sip:alice@192.0.2.1>;tag=a1")
		req = sip.AppendHeader(req, sip.HeaderTo, "<sip:bob@192.0.2.4>")
		req = sip.AppendHeader(req, sip.HeaderCallID, "call-"+tt.method)
		req = sip.AppendCSeq(req, uint32(i+1), tt.method)
		req = sip.AppendNoBody(req)
		// The in-memory network delivers at once on this goroutine, so the
		// response is in before Do waits.
		resp, err := peer.Do(context.Background(), uaAddr, req)
		if err != nil {
			t.Fatalf("%s: %v", tt.method, err)
		}
		if resp.StatusCode() != tt.status {
			t.Errorf("%s: status %d, want %d", tt.method, resp.StatusCode(), tt.status)
		}
		to, err := resp.To()
		if err != nil || len(to.Tag()) != 16 {
			t.Errorf("%s: To %q: want a 16-digit tag (err %v)", tt.method, resp.Get(sip.HeaderTo), err)
		}
		for h, v := range tt.want {
			if got := string(resp.Get(h)); got != v {
				t.Errorf("%s: %s: %q, want %q", tt.method, h, got, v)
			}
		}
	}
	if got := core.answered.Load(); got != uint64(len(tests)) {
		t.Errorf("answered %d, want %d", got, len(tests))
	}

	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != len(tests) {
		t.Fatalf("%d request events, want %d:\n%s", len(lines), len(tests), out.String())
	}
	for i, line := range lines {
		var ev requestEvent
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatal(err)
		}
		want := requestEvent{Event: "request", Method: tests[i].method, CallID: "call-" + tests[i].method, Status: tests[i].status}
		if ev != want {
			t.Errorf("event %d: %+v, want %+v", i, ev, want)
		}
	}
}

var _ transaction.TU = (*uaCore)(nil)

func TestParseUAFlags(t *testing.T) {
	f, err := parseUAFlags(nil)
	if err != nil {
		t.Fatal(err)
	}
	if f.listen.String() != "127.0.0.1:5070" || f.proto != transport.UDP || f.user != "bob" || f.duration != 0 || f.verbose {
		t.Errorf("defaults: %+v", f)
	}
	f, err = parseUAFlags([]string{"-listen", "[::1]:5080", "-transport", "TLS", "-user", "carol", "-duration", "2s", "-v"})
	if err != nil {
		t.Fatal(err)
	}
	if f.listen.String() != "[::1]:5080" || f.proto != transport.TLS || f.user != "carol" || f.duration != 2*time.Second || !f.verbose {
		t.Errorf("set: %+v", f)
	}
	for _, args := range [][]string{
		{"-transport", "sctp"},
		{"-listen", "localhost:5070"},
		{"extra"},
	} {
		if _, err := parseUAFlags(args); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}

func TestContactHeader(t *testing.T) {
	ap := netip.MustParseAddrPort("[::1]:5070")
	for proto, want := range map[transport.Protocol]string{
		transport.UDP: "<sip:bob@[::1]:5070>",
		transport.TCP: "<sip:bob@[::1]:5070;transport=tcp>",
		transport.TLS: "<sips:bob@[::1]:5070>",
	} {
		if got := contactHeader("bob", transport.Addr{Proto: proto, AddrPort: ap}); got != want {
			t.Errorf("%v: %s, want %s", proto, got, want)
		}
	}
}

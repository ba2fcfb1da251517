// Tests of "demo ua" run in process: its answers as a callee to each kind
// of request, calls between two UAs over UDP and TCP, a rejected call, and
// the exit during calls; and the pieces of its output (finalStatus,
// contactHeader).

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sipxfer/sipxfer/dialog"
	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transport"
)

// TestUAPolicy sends each kind of request to the demo UA over an
// in-memory network, from a dialog UA, and checks the answers, the call
// it takes and the events it writes with -v.
func TestUAPolicy(t *testing.T) {
	clock := transport.NewFakeClock(time.Unix(0, 0))
	network := transport.NewNetwork(clock, 1)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	var out lockedBuffer
	f, err := parseUAFlags([]string{"-v", "-ring"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	app, err := newUAApp(f, newEventWriter(&out, 0), dialog.Config{Clock: clock, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			app.close()
		}
	}()
	uaAddr, err := app.ua.ListenMem(network, transport.Addr{Proto: transport.UDP, AddrPort: netip.MustParseAddrPort("192.0.2.4:5070")})
	if err != nil {
		t.Fatal(err)
	}
	app.listening(uaAddr)

	peer := dialog.NewUA(dialog.Config{Clock: clock, Logger: quiet, User: "alice"})
	defer peer.Close()
	if _, err := peer.ListenMem(network, transport.Addr{Proto: transport.UDP, AddrPort: netip.MustParseAddrPort("192.0.2.1:5060")}); err != nil {
		t.Fatal(err)
	}

	const allow = "INVITE, ACK, CANCEL, BYE, OPTIONS, MESSAGE, NOTIFY, REFER, SUBSCRIBE"
	tests := []struct {
		method string
		event  string // Event header field, if any
		status int
		want   map[sip.HeaderName]string
	}{
		{"OPTIONS", "", 200, map[sip.HeaderName]string{sip.HeaderAllow: allow, sip.HeaderAccept: "application/sdp", sip.HeaderAllowEvents: "refer"}},
		{"MESSAGE", "", 200, nil},
		// RFC 3515 §2.4.2: a REFER without Refer-To gets 400.
		{"REFER", "", 400, nil},
		// RFC 3515 §2.4.4: only a REFER creates a refer subscription; a
		// SUBSCRIBE naming none gets 403. RFC 6665 §4.2.1.1: another
		// package gets 489 with Allow-Events.
		{"SUBSCRIBE", "refer", 403, nil},
		{"SUBSCRIBE", "presence", 489, map[sip.HeaderName]string{sip.HeaderAllowEvents: "refer"}},
		{"REGISTER", "", 405, map[sip.HeaderName]string{sip.HeaderAllow: allow}},
		{"FROBNICATE", "", 501, map[sip.HeaderName]string{sip.HeaderAllow: allow}},
	}
	callID := func(method, event string) string { return strings.TrimSuffix("call-"+method+"-"+event, "-") }
	for i, tt := range tests {
		req := sip.AppendRequestLine(nil, tt.method, "sip:bob@192.0.2.4:5070")
		req = sip.AppendHeader(req, sip.HeaderMaxForwards, "70")
		req = sip.AppendHeader(req, sip.HeaderFrom, "<sip:alice@192.0.2.1>;tag=a1")
		req = sip.AppendHeader(req, sip.HeaderTo, "<sip:bob@192.0.2.4>")
		req = sip.AppendHeader(req, sip.HeaderCallID, callID(tt.method, tt.event))
		req = sip.AppendCSeq(req, uint32(i+1), tt.method)
		if tt.event != "" {
			req = sip.AppendHeader(req, sip.HeaderEvent, tt.event)
		}
		req = sip.AppendNoBody(req)
		// The in-memory network delivers at once on this goroutine, so the
		// response is in before Do waits.
		resp, err := peer.Transactions().Do(context.Background(), uaAddr, req)
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

	// A call: 180 (-ring), then 200 with an SDP offer (the INVITE had
	// none, RFC 3264 §4); the peer's BYE
	// gets 200.
	var progress []int
	c, err := peer.Invite(context.Background(), "sip:bob@192.0.2.4:5070", &dialog.CallOptions{
		InitialOptions: dialog.InitialOptions{CallID: "call-INVITE"},
		OnProgress:     func(_ *dialog.Call, code int, _ string) { progress = append(progress, code) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(progress, []int{180}) {
		t.Errorf("provisional responses %v, want [180]", progress)
	}
	if got, want := string(c.RemoteBody()), sdpOffer192024; got != want {
		t.Errorf("SDP answer:\n%s\nwant:\n%s", got, want)
	}
	if err := c.Bye(context.Background()); err != nil {
		t.Fatalf("BYE: %v", err)
	}

	s := app.close() // waits for the call's events
	closed = true
	if s.Dialogs != 0 || s.CallsReceived != 1 || s.CallsReceivedEstablished != 1 || s.CallsReceivedFailed != 0 {
		t.Errorf("stats %+v: want 0 dialogs and 1 call received and established", s)
	}
	// Final responses: the five above, 200 to the INVITE and to the BYE.
	if want := uint64(len(tests) + 2); s.Answered != want {
		t.Errorf("answered %d, want %d", s.Answered, want)
	}

	var requests []requestEvent
	var calls, refused []string
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var ev callEvent
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		switch ev.Event {
		case "refer_refused":
			refused = append(refused, line)
		case "request":
			var r requestEvent
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				t.Fatal(err)
			}
			requests = append(requests, r)
		default:
			if ev.CallID != "call-INVITE" {
				t.Errorf("%s: call_id %q", line, ev.CallID)
			}
			calls = append(calls, ev.Event+" "+ev.Direction+" "+ev.Reason)
		}
	}
	var want []requestEvent
	for _, tt := range tests {
		want = append(want, requestEvent{Event: "request", Method: tt.method, CallID: callID(tt.method, tt.event), Status: tt.status})
	}
	want = append(want,
		requestEvent{Event: "request", Method: "INVITE", CallID: "call-INVITE", Status: 200},
		requestEvent{Event: "request", Method: "BYE", CallID: "call-INVITE", Status: 200})
	if !slices.Equal(requests, want) {
		t.Errorf("request events:\n%+v\nwant:\n%+v", requests, want)
	}
	wantRefused := []string{`{"event":"refer_refused","call_id":"call-REFER","code":400,"reason":"Missing Refer-To"}`}
	if !slices.Equal(refused, wantRefused) {
		t.Errorf("refer_refused events %q, want %q", refused, wantRefused)
	}
	if s.RefersRefused != 1 || s.RefersReceived != 0 {
		t.Errorf("stats %+v: want 1 REFER refused, none received", s)
	}
	wantCalls := []string{"call_incoming in ", "call_established in ", "call_ended in dialog: remote hung up"}
	if !slices.Equal(calls, wantCalls) {
		t.Errorf("call events %q, want %q", calls, wantCalls)
	}
}

// TestUACalls runs two UAs on real sockets, one calling the other five
// times, over UDP and over TCP, and checks the events of both.
func TestUACalls(t *testing.T) {
	for _, tc := range []struct{ name, proto, readers string }{
		{"udp", "udp", "1"},
		{"tcp", "tcp", "1"},
		{"udp-readers", "udp", "2"}, // both UAs read with two sockets
	} {
		proto := tc.proto
		t.Run(tc.name, func(t *testing.T) {
			const n = 5
			callee := startUA(t, "-listen", "127.0.0.1:0", "-transport", proto, "-ring", "-udp-readers", tc.readers)
			target := "sip:bob@" + callee.addr
			if proto == "tcp" {
				target += ";transport=tcp"
			}
			caller := startUA(t, "-listen", "127.0.0.1:0", "-transport", proto, "-user", "alice", "-udp-readers", tc.readers,
				"-call", target, "-max-calls", fmt.Sprint(n), "-call-rate", "200")

			// The caller exits by itself once its calls have ended.
			out, err := caller.wait()
			if err != nil {
				t.Fatalf("caller: %v\n%s", err, caller.log.String())
			}
			outIDs := checkCalls(t, "caller", out, "out", n, dialog.ErrLocalBye.Error())
			if s := out.stats; s.CallsPlaced != n || s.CallsEstablished != n || s.CallsFailed != 0 || s.HangupsFailed != 0 || s.Dialogs != 0 {
				t.Errorf("caller stats %+v", s)
			}

			// The callee has seen every BYE before the caller's ended:
			// each BYE got its 200 from the callee's Call, which had ended.
			callee.waitFor("call_ended", n)
			callee.stop()
			in, err := callee.wait()
			if err != nil {
				t.Fatalf("callee: %v", err)
			}
			inIDs := checkCalls(t, "callee", in, "in", n, dialog.ErrRemoteBye.Error())
			if got := in.count("call_incoming"); got != n {
				t.Errorf("callee: %d call_incoming, want %d", got, n)
			}
			if s := in.stats; s.CallsReceived != n || s.CallsReceivedEstablished != n || s.CallsReceivedFailed != 0 || s.CallsPlaced != 0 || s.Dialogs != 0 {
				t.Errorf("callee stats %+v", s)
			}
			if !slices.Equal(outIDs, inIDs) {
				t.Errorf("Call-IDs differ: caller %q, callee %q", outIDs, inIDs)
			}
		})
	}
}

// TestUARejected: with -answer-code 486 the caller's call fails with
// status 486, and the caller exits with errCallsFailed.
func TestUARejected(t *testing.T) {
	callee := startUA(t, "-listen", "127.0.0.1:0", "-answer-code", "486")
	caller := startUA(t, "-listen", "127.0.0.1:0", "-user", "alice", "-call", "sip:bob@"+callee.addr)
	out, err := caller.wait()
	if !errors.Is(err, errCallsFailed) {
		t.Fatalf("caller: err %v, want %v", err, errCallsFailed)
	}
	failed := out.all("call_failed")
	if len(failed) != 1 || failed[0].Status != 486 || failed[0].Direction != "out" || failed[0].Cancelled {
		t.Fatalf("caller call_failed events %+v, want one with status 486", failed)
	}
	if out.count("call_established") != 0 || out.stats.CallsFailed != 1 || out.stats.CallsPlaced != 1 || out.stats.Dialogs != 0 {
		t.Errorf("caller stats %+v", out.stats)
	}

	callee.waitFor("call_failed", 1)
	callee.stop()
	in, err := callee.wait()
	if err != nil {
		t.Fatalf("callee: %v", err)
	}
	if f := in.all("call_failed"); len(f) != 1 || f[0].Status != 486 || f[0].Direction != "in" || f[0].CallID != failed[0].CallID {
		t.Errorf("callee call_failed events %+v", f)
	}
	if in.stats.CallsReceivedFailed != 1 || in.stats.Dialogs != 0 {
		t.Errorf("callee stats %+v", in.stats)
	}
}

// TestUAExitDuringCall: a UA told to exit hangs up the calls it holds,
// placed or received, and a call placed that the peer ends is no failure.
func TestUAExitDuringCall(t *testing.T) {
	for _, who := range []string{"caller", "callee"} {
		t.Run(who+" exits", func(t *testing.T) {
			callee := startUA(t, "-listen", "127.0.0.1:0")
			caller := startUA(t, "-listen", "127.0.0.1:0", "-user", "alice", "-call", "sip:bob@"+callee.addr, "-hold", "1h")
			caller.waitFor("call_established", 1)
			callee.waitFor("call_established", 1)
			first, second := caller, callee
			if who == "callee" {
				first, second = callee, caller
			}
			first.stop()
			a, err := first.wait()
			if err != nil {
				t.Fatalf("%s: %v", who, err)
			}
			if who == "callee" {
				// The caller exits by itself once its only call has ended.
				b, err := second.wait()
				if err != nil {
					t.Fatalf("caller: %v", err)
				}
				checkCalls(t, "callee", a, "in", 1, dialog.ErrLocalBye.Error())
				checkCalls(t, "caller", b, "out", 1, dialog.ErrRemoteBye.Error())
				return
			}
			checkCalls(t, "caller", a, "out", 1, dialog.ErrLocalBye.Error())
			second.waitFor("call_ended", 1)
			second.stop()
			b, err := second.wait()
			if err != nil {
				t.Fatalf("callee: %v", err)
			}
			checkCalls(t, "callee", b, "in", 1, dialog.ErrRemoteBye.Error())
		})
	}
}

func TestFinalStatus(t *testing.T) {
	for msg, want := range map[string]int{
		"SIP/2.0 200 OK\r\n":            200,
		"SIP/2.0 486 Busy Here\r\n":     486,
		"SIP/2.0 180 Ringing\r\n":       0,
		"SIP/2.0 100 Trying\r\n":        0,
		"INVITE sip:a@b SIP/2.0\r\n":    0,
		"SIP/2.0 2x0 Bad\r\n":           0,
		"SIP/2.0 20":                    0,
		"SIP/3.0 200 OK Not Ours\r\n":   0,
		"SIP/2.0 699 Last One\r\n\r\n":  699,
		"SIP/2.0 999 Odd But Final\r\n": 999,
	} {
		got, ok := finalStatus([]byte(msg))
		if got != want || ok != (want != 0) {
			t.Errorf("%q: %d %v, want %d", msg, got, ok, want)
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

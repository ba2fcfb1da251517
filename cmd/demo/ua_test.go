package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"regexp"
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
	app, err := newUAApp(f, &eventWriter{enc: json.NewEncoder(&out)}, dialog.Config{Clock: clock, Logger: quiet})
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
	for _, proto := range []string{"udp", "tcp"} {
		t.Run(proto, func(t *testing.T) {
			const n = 5
			callee := startUA(t, "-listen", "127.0.0.1:0", "-transport", proto, "-ring")
			target := "sip:bob@" + callee.addr
			if proto == "tcp" {
				target += ";transport=tcp"
			}
			caller := startUA(t, "-listen", "127.0.0.1:0", "-transport", proto, "-user", "alice",
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

// TestUATransfer runs three UAs on 127.0.0.1: Alice calls Bob and
// transfers him to Carol (RFC 5589), for each way the flags allow; Bob's
// and Carol's UAs run with the defaults (and Carol rings). It checks
// Alice's events step by step, Bob's REFER and his call to Carol, and that
// nothing is left.
func TestUATransfer(t *testing.T) {
	const ended = "call_ended out: dialog: local hang-up"
	tests := []struct {
		name      string
		alice     []string
		bob       []string
		want      []string // Alice's events
		referCode int      // Bob's answer to the REFER
		noSub     bool     // Bob honoured Refer-Sub: false
		svc       bool     // -refer-to-uri sip:svc@<Carol's address>
	}{
		{
			name: "blind",
			want: []string{"call_established out", "refer_sent attended=false norefersub=false out_of_dialog=false", "refer_response 200",
				"notify 100 active", "notify 200 terminated",
				"transfer_result ok=true refer_code=200 code=200 no_subscription=false", ended},
			referCode: 200,
		},
		{
			// A peer that knows only RFC 3515 gets the 202 it expects.
			name: "rfc3515",
			bob:  []string{"-rfc3515"},
			want: []string{"call_established out", "refer_sent attended=false norefersub=false out_of_dialog=false", "refer_response 202",
				"notify 100 active", "notify 200 terminated",
				"transfer_result ok=true refer_code=202 code=200 no_subscription=false", ended},
			referCode: 202,
		},
		{
			// RFC 4488: no NOTIFY; nothing is known beyond the 200.
			name:  "norefersub",
			alice: []string{"-norefersub"},
			want: []string{"call_established out", "refer_sent attended=false norefersub=true out_of_dialog=false", "refer_response 200",
				"transfer_result ok=true refer_code=200 code=0 no_subscription=true", ended},
			referCode: 200,
			noSub:     true,
		},
		{
			name:  "norefersub ignored",
			alice: []string{"-norefersub"},
			bob:   []string{"-refer-sub", "ignore"},
			want: []string{"call_established out", "refer_sent attended=false norefersub=true out_of_dialog=false", "refer_response 200",
				"notify 100 active", "notify 200 terminated",
				"transfer_result ok=true refer_code=200 code=200 no_subscription=false", ended},
			referCode: 200,
		},
		{
			// RFC 4538: the REFER goes outside the call's dialog, its
			// NOTIFYs in the dialog its 200 creates.
			name:  "out of dialog",
			alice: []string{"-out-of-dialog"},
			want: []string{"call_established out", "refer_sent attended=false norefersub=false out_of_dialog=true", "refer_response 200",
				"notify 100 active", "notify 200 terminated",
				"transfer_result ok=true refer_code=200 code=200 no_subscription=false", ended},
			referCode: 200,
		},
		{
			// RFC 5589 §7.3: Carol answers Bob's INVITE with Replaces at
			// once (no 180) and hangs up the consultation.
			name:  "attended",
			alice: []string{"-attended"},
			want: []string{"call_established out", "call_established out consult",
				"refer_sent attended=true norefersub=false out_of_dialog=false", "refer_response 200",
				"notify 100 active", "notify 200 terminated",
				"transfer_result ok=true refer_code=200 code=200 no_subscription=false",
				"call_ended out consult: dialog: remote hung up", ended},
			referCode: 200,
		},
		{
			// The Refer-To names another URI (a balancer's service
			// address) with the consultation's Replaces.
			name:  "attended refer-to-uri",
			alice: []string{"-attended"},
			svc:   true,
			want: []string{"call_established out", "call_established out consult",
				"refer_sent attended=true norefersub=false out_of_dialog=false", "refer_response 200",
				"notify 100 active", "notify 200 terminated",
				"transfer_result ok=true refer_code=200 code=200 no_subscription=false",
				"call_ended out consult: dialog: remote hung up", ended},
			referCode: 200,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			carol := startUA(t, "-listen", "127.0.0.1:0", "-user", "carol", "-ring")
			bob := startUA(t, append([]string{"-listen", "127.0.0.1:0"}, tt.bob...)...)
			carolURI := "sip:carol@" + carol.addr
			aliceArgs := append([]string{"-listen", "127.0.0.1:0", "-user", "alice",
				"-call", "sip:bob@" + bob.addr, "-transfer-to", carolURI}, tt.alice...)
			if tt.svc {
				aliceArgs = append(aliceArgs, "-refer-to-uri", "sip:svc@"+carol.addr)
			}
			alice := startUA(t, aliceArgs...)

			// Alice exits by herself once the transfer is over and she
			// has hung up.
			a, err := alice.wait()
			if err != nil {
				t.Fatalf("alice: %v\n%s", err, alice.log.String())
			}
			kinds := []string{"call_established", "call_ended", "call_failed", "refer_sent", "refer_response", "notify", "transfer_result", "error"}
			// RFC 3515 §3.10: Bob sends at most one NOTIFY a second, and
			// Carol answers right after ringing, so her 180 is coalesced
			// into the final NOTIFY; a run slow by a second may report it.
			got := slices.DeleteFunc(a.steps(kinds...), func(s string) bool { return s == "notify 180 active" })
			if !slices.Equal(got, tt.want) {
				t.Errorf("alice's events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			callID := a.find("call_established")[0].CallID
			for _, ev := range a.events {
				if strings.HasPrefix(ev.Event, "refer_") || ev.Event == "notify" || ev.Event == "transfer_result" {
					if ev.CallID != callID {
						t.Errorf("%s: call_id %q, want the transferred call's %q", ev.Event, ev.CallID, callID)
					}
				}
			}
			if s := a.stats; s.TransfersStarted != 1 || s.TransfersOK != 1 || s.TransfersFailed != 0 || s.Dialogs != 0 || s.HangupsFailed != 0 {
				t.Errorf("alice stats %+v", s)
			}

			// Bob got the REFER in the call from Alice (or outside it,
			// about it) and called Carol.
			ref := bob.waitUntil(func(ev testEvent) bool { return ev.Event == "refer_received" })
			wantRef := fmt.Sprintf("refer_received code=%d in_dialog=%v norefersub=%v no_subscription=%v attended=%v",
				tt.referCode, !slices.Contains(tt.alice, "-out-of-dialog"), slices.Contains(tt.alice, "-norefersub"), tt.noSub, slices.Contains(tt.alice, "-attended"))
			if ref.step() != wantRef || ref.About != callID || ref.ReferredBy == "" {
				t.Errorf("bob: %+v\nwant %s about %s, with Referred-By", ref, wantRef, callID)
			}
			if !slices.Contains(tt.alice, "-attended") && ref.ReferTo != "<"+carolURI+">" {
				t.Errorf("bob: refer_to %q, want <%s>", ref.ReferTo, carolURI)
			}
			if slices.Contains(tt.alice, "-attended") && !strings.Contains(ref.ReferTo, "?Replaces=") {
				t.Errorf("bob: refer_to %q, want a Replaces", ref.ReferTo)
			}
			if want := "<sip:svc@" + carol.addr + "?Replaces="; tt.svc != strings.HasPrefix(ref.ReferTo, want) {
				t.Errorf("bob: refer_to %q, want it to start with %s: %v", ref.ReferTo, want, tt.svc)
			}
			referred := bob.waitUntil(func(ev testEvent) bool { return ev.Event == "call_established" && ev.Purpose == "referred" })
			inCarol := carol.waitUntil(func(ev testEvent) bool { return ev.Event == "call_established" && ev.CallID == referred.CallID })
			if inCarol.Direction != "in" {
				t.Errorf("carol: %+v", inCarol)
			}
			bob.waitUntil(func(ev testEvent) bool { return ev.Event == "call_ended" && ev.CallID == callID })

			// Carol hangs up at exit; Bob's call with her ends, then Bob.
			carol.stop()
			c, err := carol.wait()
			if err != nil {
				t.Fatalf("carol: %v", err)
			}
			bob.waitUntil(func(ev testEvent) bool { return ev.Event == "call_ended" && ev.CallID == referred.CallID })
			bob.stop()
			b, err := bob.wait()
			if err != nil {
				t.Fatalf("bob: %v", err)
			}
			wantBob := []string{"call_incoming in", "call_established in", "call_established out referred",
				"call_ended in: dialog: remote hung up", "call_ended out referred: dialog: remote hung up"}
			if got := b.steps("call_incoming", "call_established", "call_ended", "call_failed"); !sameSet(got, wantBob) {
				t.Errorf("bob's calls:\n%s\nwant (in any order):\n%s", strings.Join(got, "\n"), strings.Join(wantBob, "\n"))
			}
			if s := b.stats; s.RefersReceived != 1 || s.RefersAccepted != 1 || s.ReferredCalls != 1 || s.ReferredCallsEstablished != 1 || s.Dialogs != 0 {
				t.Errorf("bob stats %+v", s)
			}
			if c.stats.Dialogs != 0 {
				t.Errorf("carol: %d dialogs left", c.stats.Dialogs)
			}
			if slices.Contains(tt.alice, "-attended") {
				// Carol's INVITE with Replaces named the consultation.
				consult := a.find("call_established")[1].CallID
				var replacing []testEvent
				for _, ev := range c.find("call_incoming") {
					if ev.Replaces != "" {
						replacing = append(replacing, ev)
					}
				}
				if len(replacing) != 1 || replacing[0].Replaces != consult || replacing[0].CallID != referred.CallID {
					t.Errorf("carol's INVITEs with Replaces %+v, want one naming %s", replacing, consult)
				}
			}
		})
	}
}

// TestUATransferDeclined: with -accept-refer=false the transferee
// declines the REFER with 603; the transferor reports the failed transfer,
// hangs up and exits with errTransfersFailed.
func TestUATransferDeclined(t *testing.T) {
	carol := startUA(t, "-listen", "127.0.0.1:0", "-user", "carol")
	bob := startUA(t, "-listen", "127.0.0.1:0", "-accept-refer=false")
	alice := startUA(t, "-listen", "127.0.0.1:0", "-user", "alice", "-call", "sip:bob@"+bob.addr, "-transfer-to", "sip:carol@"+carol.addr)
	a, err := alice.wait()
	if !errors.Is(err, errTransfersFailed) {
		t.Fatalf("alice: err %v, want %v", err, errTransfersFailed)
	}
	want := []string{"call_established out", "refer_sent attended=false norefersub=false out_of_dialog=false", "refer_response 603",
		"transfer_result ok=false refer_code=603 code=0 no_subscription=false", "call_ended out: dialog: local hang-up"}
	if got := a.steps("call_established", "call_ended", "call_failed", "refer_sent", "refer_response", "notify", "transfer_result"); !slices.Equal(got, want) {
		t.Errorf("alice's events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if r := a.find("transfer_result"); len(r) != 1 || r[0].Error == "" {
		t.Errorf("transfer_result %+v: want an error", r)
	}
	if s := a.stats; s.TransfersStarted != 1 || s.TransfersFailed != 1 || s.TransfersOK != 0 || s.CallsFailed != 0 || s.Dialogs != 0 {
		t.Errorf("alice stats %+v", s)
	}

	bob.waitUntil(func(ev testEvent) bool { return ev.Event == "call_ended" })
	bob.stop()
	b, err := bob.wait()
	if err != nil {
		t.Fatalf("bob: %v", err)
	}
	want = []string{"refer_received code=603 in_dialog=true norefersub=false no_subscription=false attended=false", "refer_refused 603"}
	if got := b.steps("refer_received", "refer_refused"); !slices.Equal(got, want) {
		t.Errorf("bob's REFER events %q, want %q", got, want)
	}
	if s := b.stats; s.RefersReceived != 1 || s.RefersDeclined != 1 || s.RefersAccepted != 0 || s.RefersRefused != 1 || s.ReferredCalls != 0 || s.Dialogs != 0 {
		t.Errorf("bob stats %+v", s)
	}
	carol.stop()
	if c, err := carol.wait(); err != nil || c.stats.CallsReceived != 0 {
		t.Errorf("carol: %v, stats %+v: want no call", err, c.stats)
	}
}

// TestUATransferTargetBusy: the target rejects the call (486), blind or
// as the consultation of -attended; the transfer fails, the transferor
// reports why, hangs up and exits with errTransfersFailed.
func TestUATransferTargetBusy(t *testing.T) {
	for _, tt := range []struct {
		name  string
		alice []string
		want  []string
	}{
		{
			// RFC 3515 §2.4.5: the final NOTIFY carries the target's 486.
			name: "blind",
			want: []string{"call_established out", "refer_sent attended=false norefersub=false out_of_dialog=false", "refer_response 200",
				"notify 100 active", "notify 486 terminated",
				"transfer_result ok=false refer_code=200 code=486 no_subscription=false", "call_ended out: dialog: local hang-up"},
		},
		{
			// No consultation, no REFER.
			name:  "attended",
			alice: []string{"-attended"},
			want: []string{"call_established out", "call_failed out consult",
				"transfer_result ok=false refer_code=0 code=0 no_subscription=false", "call_ended out: dialog: local hang-up"},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			carol := startUA(t, "-listen", "127.0.0.1:0", "-user", "carol", "-answer-code", "486")
			bob := startUA(t, "-listen", "127.0.0.1:0")
			alice := startUA(t, append([]string{"-listen", "127.0.0.1:0", "-user", "alice", "-call", "sip:bob@" + bob.addr,
				"-transfer-to", "sip:carol@" + carol.addr}, tt.alice...)...)
			a, err := alice.wait()
			if !errors.Is(err, errTransfersFailed) {
				t.Fatalf("alice: err %v, want %v", err, errTransfersFailed)
			}
			if got := a.steps("call_established", "call_ended", "call_failed", "refer_sent", "refer_response", "notify", "transfer_result"); !slices.Equal(got, tt.want) {
				t.Errorf("alice's events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if r := a.find("transfer_result"); len(r) != 1 || r[0].Error == "" {
				t.Errorf("transfer_result %+v: want an error", r)
			}
			if f := a.find("call_failed"); len(f) == 1 && f[0].Status != 486 {
				t.Errorf("consultation %+v: want status 486", f[0])
			}
			if s := a.stats; s.TransfersStarted != 1 || s.TransfersFailed != 1 || s.CallsFailed != 0 || s.Dialogs != 0 {
				t.Errorf("alice stats %+v", s)
			}
			bob.waitUntil(func(ev testEvent) bool { return ev.Event == "call_ended" })
			bob.stop()
			b, err := bob.wait()
			if err != nil {
				t.Fatalf("bob: %v", err)
			}
			wantReferred := uint64(1)
			if slices.Contains(tt.alice, "-attended") {
				wantReferred = 0
			}
			if s := b.stats; s.ReferredCalls != wantReferred || s.ReferredCallsFailed != wantReferred || s.Dialogs != 0 {
				t.Errorf("bob stats %+v", s)
			}
		})
	}
}

// sameSet reports whether a and b hold the same strings, in any order.
func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// checkCalls asserts that events hold n calls of direction, each
// established then ended with reason, no failure and 0 dialogs left; it
// returns their sorted Call-IDs.
func checkCalls(t *testing.T, who string, e *uaEvents, direction string, n int, reason string) []string {
	t.Helper()
	if f := e.all("call_failed"); len(f) != 0 {
		t.Errorf("%s: call_failed %+v", who, f)
	}
	established := map[string]bool{}
	for _, ev := range e.all("call_established") {
		if ev.Direction != direction {
			t.Errorf("%s: %+v: want direction %q", who, ev, direction)
		}
		established[ev.CallID] = true
	}
	var ids []string
	for _, ev := range e.all("call_ended") {
		if ev.Direction != direction || ev.Reason != reason || ev.ByeError != "" || !established[ev.CallID] {
			t.Errorf("%s: %+v: want an established call ended with %q", who, ev, reason)
		}
		ids = append(ids, ev.CallID)
	}
	if len(established) != n || len(ids) != n {
		t.Errorf("%s: %d established, %d ended, want %d", who, len(established), len(ids), n)
	}
	if e.stats.Dialogs != 0 {
		t.Errorf("%s: %d dialogs left", who, e.stats.Dialogs)
	}
	slices.Sort(ids)
	return ids
}

// uaProc is one "demo ua" run in this process, its events read from a
// pipe as it writes them.
type uaProc struct {
	*proc
	seen uaEvents // events read by waitFor
}

// startUA starts "demo ua args..." and returns once it listens.
func startUA(t *testing.T, args ...string) *uaProc {
	t.Helper()
	p := &uaProc{proc: startProc(t, "ua", runUAContext, args)}
	line := p.next()
	var ev listeningEvent
	if err := json.Unmarshal(line, &ev); err != nil || ev.Event != "listening" {
		t.Fatalf("first event %s, want listening (%v)\n%s", line, err, p.log.String())
	}
	p.addr = ev.Addr
	return p
}

// waitFor reads events until n of kind have been seen.
func (p *uaProc) waitFor(kind string, n int) {
	p.t.Helper()
	for p.seen.count(kind) < n {
		p.seen.add(p.t, p.next())
	}
}

// waitUntil reads events until one satisfies ok.
func (p *uaProc) waitUntil(ok func(testEvent) bool) testEvent {
	p.t.Helper()
	for _, ev := range p.seen.events {
		if ok(ev) {
			return ev
		}
	}
	for {
		n := len(p.seen.events)
		p.seen.add(p.t, p.next())
		for _, ev := range p.seen.events[n:] {
			if ok(ev) {
				return ev
			}
		}
	}
}

// wait reads the events until the run ends and returns them all (with
// those waitFor read) and the run's error.
func (p *uaProc) wait() (*uaEvents, error) {
	p.t.Helper()
	err := p.drain(func(line []byte) { p.t.Helper(); p.seen.add(p.t, line) })
	if p.seen.stats.Event != "stats" {
		p.t.Fatalf("no stats event (err %v)\n%s", err, p.log.String())
	}
	return &p.seen, err
}

// uaEvents are the events of a run.
type uaEvents struct {
	calls  []callEvent
	events []testEvent // every event but the stats, in order
	stats  statsEvent
}

// testEvent holds the fields of every event kind, for the assertions.
type testEvent struct {
	Event          string `json:"event"`
	CallID         string `json:"call_id"`
	Direction      string `json:"direction"`
	Purpose        string `json:"purpose"`
	From           string `json:"from"`
	Replaces       string `json:"replaces"`
	Status         int    `json:"status"`
	Reason         string `json:"reason"`
	ReferTo        string `json:"refer_to"`
	ID             string `json:"id"`
	InDialog       bool   `json:"in_dialog"`
	About          string `json:"about"`
	NoReferSub     bool   `json:"norefersub"`
	NoSubscription bool   `json:"no_subscription"`
	Attended       bool   `json:"attended"`
	ReferredBy     string `json:"referred_by"`
	OutOfDialog    bool   `json:"out_of_dialog"`
	Code           int    `json:"code"`
	State          string `json:"state"`
	OK             bool   `json:"ok"`
	ReferCode      int    `json:"refer_code"`
	Cancelled      bool   `json:"cancelled"`
	Error          string `json:"error"`
	AOR            string `json:"aor"`
	Expires        int    `json:"expires"`
}

// step is a short form of the event for comparing sequences.
func (ev testEvent) step() string {
	switch ev.Event {
	case "call_established", "call_incoming", "call_failed":
		return strings.TrimSpace(ev.Event + " " + ev.Direction + " " + ev.Purpose)
	case "call_ended":
		return strings.TrimSpace(ev.Event+" "+ev.Direction+" "+ev.Purpose) + ": " + ev.Reason
	case "refer_sent":
		return fmt.Sprintf("refer_sent attended=%v norefersub=%v out_of_dialog=%v", ev.Attended, ev.NoReferSub, ev.OutOfDialog)
	case "refer_response", "refer_refused":
		return fmt.Sprint(ev.Event, " ", ev.Code)
	case "notify":
		return fmt.Sprint("notify ", ev.Code, " ", ev.State)
	case "transfer_result":
		return fmt.Sprintf("transfer_result ok=%v refer_code=%d code=%d no_subscription=%v", ev.OK, ev.ReferCode, ev.Code, ev.NoSubscription)
	case "refer_received":
		return fmt.Sprintf("refer_received code=%d in_dialog=%v norefersub=%v no_subscription=%v attended=%v", ev.Code, ev.InDialog, ev.NoReferSub, ev.NoSubscription, ev.Attended)
	}
	return ev.Event
}

// steps returns the events of the kinds given, in order, as steps.
func (e *uaEvents) steps(kinds ...string) []string {
	var out []string
	for _, ev := range e.events {
		if slices.Contains(kinds, ev.Event) {
			out = append(out, ev.step())
		}
	}
	return out
}

// find returns the events of kind.
func (e *uaEvents) find(kind string) []testEvent {
	var out []testEvent
	for _, ev := range e.events {
		if ev.Event == kind {
			out = append(out, ev)
		}
	}
	return out
}

func (e *uaEvents) add(t *testing.T, line []byte) {
	t.Helper()
	var ev callEvent
	if err := json.Unmarshal(line, &ev); err != nil {
		t.Fatalf("event %s: %v", line, err)
	}
	if e.stats.Event != "" {
		t.Errorf("event %s after the stats", line)
	}
	if ev.Event == "stats" {
		if err := json.Unmarshal(line, &e.stats); err != nil {
			t.Fatal(err)
		}
		return
	}
	e.calls = append(e.calls, ev)
	var te testEvent
	if err := json.Unmarshal(line, &te); err != nil {
		t.Fatalf("event %s: %v", line, err)
	}
	e.events = append(e.events, te)
}

func (e *uaEvents) all(kind string) []callEvent {
	var out []callEvent
	for _, ev := range e.calls {
		if ev.Event == kind {
			out = append(out, ev)
		}
	}
	return out
}

func (e *uaEvents) count(kind string) int { return len(e.all(kind)) }

func TestParseUAFlags(t *testing.T) {
	f, err := parseUAFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if f.listen.String() != "127.0.0.1:5070" || f.proto != transport.UDP || f.user != "bob" || f.duration != 0 || f.verbose ||
		f.answerCode != 200 || f.ring || f.call != "" || f.maxCalls != 1 || f.callRate != 10 || f.hold != 0 ||
		!f.acceptRefer || f.referSubIgn || f.rfc3515 || f.acceptOut || f.transferTo != "" || f.attended || f.noReferSub || f.outOfDialog {
		t.Errorf("defaults: %+v", f)
	}
	f, err = parseUAFlags([]string{"-listen", "[::1]:5080", "-transport", "TLS", "-user", "carol", "-duration", "2s", "-v",
		"-answer-code", "486", "-ring", "-call", "sip:bob@[::1]:5070", "-max-calls", "200", "-call-rate", "50", "-hold", "1.5s"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if f.listen.String() != "[::1]:5080" || f.proto != transport.TLS || f.user != "carol" || f.duration != 2*time.Second || !f.verbose ||
		f.answerCode != 486 || !f.ring || f.call != "sip:bob@[::1]:5070" || f.maxCalls != 200 || f.callRate != 50 || f.hold != 1500*time.Millisecond {
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
		"register", "register-expires", "auth-user", "auth-password", "session-expires"} {
		if !regexp.MustCompile(`\n  -` + name + `[ \t\n]`).MatchString(out.String()) {
			t.Errorf("-h does not list -%s", name)
		}
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

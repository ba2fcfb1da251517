// Tests of "demo ua" transferring calls: three UAs in process as
// transferor, transferee and target, blind and attended, accepted, declined
// and failing at the target.

package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

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

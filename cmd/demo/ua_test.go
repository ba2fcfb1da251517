package main

import (
	"bufio"
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
	"sync"
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
	app := newUAApp(f, &eventWriter{enc: json.NewEncoder(&out)}, dialog.Config{Clock: clock, Logger: quiet})
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

	const allow = "INVITE, ACK, CANCEL, BYE, OPTIONS, MESSAGE"
	tests := []struct {
		method string
		status int
		want   map[sip.HeaderName]string
	}{
		{"OPTIONS", 200, map[sip.HeaderName]string{sip.HeaderAllow: allow, sip.HeaderAccept: "application/sdp"}},
		{"MESSAGE", 200, nil},
		{"REFER", 405, map[sip.HeaderName]string{sip.HeaderAllow: allow}},
		{"REGISTER", 405, map[sip.HeaderName]string{sip.HeaderAllow: allow}},
		{"FROBNICATE", 501, map[sip.HeaderName]string{sip.HeaderAllow: allow}},
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

	// A call: 180 (-ring), then 200 with the minimal SDP; the peer's BYE
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
	if got, want := string(c.RemoteBody()), string(minimalSDP(netip.MustParseAddr("192.0.2.4"))); got != want {
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
	var calls []string
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var ev callEvent
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		switch ev.Event {
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
		want = append(want, requestEvent{Event: "request", Method: tt.method, CallID: "call-" + tt.method, Status: tt.status})
	}
	want = append(want,
		requestEvent{Event: "request", Method: "INVITE", CallID: "call-INVITE", Status: 200},
		requestEvent{Event: "request", Method: "BYE", CallID: "call-INVITE", Status: 200})
	if !slices.Equal(requests, want) {
		t.Errorf("request events:\n%+v\nwant:\n%+v", requests, want)
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

// uaTestTimeout bounds every wait of these tests.
const uaTestTimeout = 20 * time.Second

// uaProc is one "demo ua" run in this process, its events read from a
// pipe as it writes them.
type uaProc struct {
	t      *testing.T
	addr   string // 127.0.0.1:port it listens on
	cancel context.CancelFunc
	lines  chan []byte   // closed when the run has returned
	done   chan struct{} // closed when the run has returned, err set
	err    error
	log    *lockedBuffer
	seen   uaEvents // events read by waitFor
}

// startUA starts "demo ua args..." and returns once it listens.
func startUA(t *testing.T, args ...string) *uaProc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	p := &uaProc{t: t, cancel: cancel, lines: make(chan []byte, 1024), done: make(chan struct{}), log: &lockedBuffer{}}
	go func() {
		p.err = runUAContext(ctx, args, pw, p.log)
		pw.Close()
		close(p.done)
	}()
	go func() {
		defer close(p.lines)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			p.lines <- bytes.Clone(sc.Bytes())
		}
	}()
	t.Cleanup(func() {
		cancel()
		pr.Close() // a run nobody reads any more must not block writing
		select {
		case <-p.done:
		case <-time.After(uaTestTimeout):
			t.Errorf("ua %q did not exit", args)
		}
	})
	line := p.next()
	var ev listeningEvent
	if err := json.Unmarshal(line, &ev); err != nil || ev.Event != "listening" {
		t.Fatalf("first event %s, want listening (%v)\n%s", line, err, p.log.String())
	}
	p.addr = ev.Addr
	return p
}

// next returns the next event line, failing the test if none comes in
// time or the run has ended.
func (p *uaProc) next() []byte {
	p.t.Helper()
	select {
	case line, ok := <-p.lines:
		if !ok {
			<-p.done
			p.t.Fatalf("ua exited early: %v\n%s", p.err, p.log.String())
		}
		return line
	case <-time.After(uaTestTimeout):
		p.t.Fatalf("no event within %v\n%s", uaTestTimeout, p.log.String())
		return nil
	}
}

// waitFor reads events until n of kind have been seen.
func (p *uaProc) waitFor(kind string, n int) {
	p.t.Helper()
	for p.seen.count(kind) < n {
		p.seen.add(p.t, p.next())
	}
}

// stop tells the run to exit, as SIGTERM does.
func (p *uaProc) stop() { p.cancel() }

// wait reads the events until the run ends and returns them all (with
// those waitFor read) and the run's error.
func (p *uaProc) wait() (*uaEvents, error) {
	p.t.Helper()
	deadline := time.After(uaTestTimeout)
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				<-p.done
				if p.seen.stats.Event != "stats" {
					p.t.Fatalf("no stats event (err %v)\n%s", p.err, p.log.String())
				}
				return &p.seen, p.err
			}
			p.seen.add(p.t, line)
		case <-deadline:
			p.t.Fatalf("ua did not exit within %v\n%s", uaTestTimeout, p.log.String())
		}
	}
}

// uaEvents are the events of a run.
type uaEvents struct {
	calls []callEvent
	stats statsEvent
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

// lockedBuffer is a bytes.Buffer for concurrent writers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestParseUAFlags(t *testing.T) {
	f, err := parseUAFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if f.listen.String() != "127.0.0.1:5070" || f.proto != transport.UDP || f.user != "bob" || f.duration != 0 || f.verbose ||
		f.answerCode != 200 || f.ring || f.call != "" || f.maxCalls != 1 || f.callRate != 10 || f.hold != 0 {
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
	for _, args := range [][]string{
		{"-transport", "sctp"},
		{"-listen", "localhost:5070"},
		{"extra"},
		{"-answer-code", "180"},
		{"-answer-code", "202"},
		{"-answer-code", "700"},
		{"-call", "sip:bob@localhost:5070"},
		{"-call", "tel:+15551234"},
		{"-call", "bob"},
		{"-max-calls", "-1"},
		{"-call-rate", "0"},
		{"-call-rate", "20000"},
		{"-hold", "-1s"},
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
	for _, name := range []string{"listen", "transport", "user", "duration", "v", "debug", "answer-code", "ring", "call", "max-calls", "call-rate", "hold"} {
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

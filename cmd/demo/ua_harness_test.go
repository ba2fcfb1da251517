// The harness of the "demo ua" tests: a UA run in process (uaProc) and the
// JSON events it wrote, read back (uaEvents), with the checks the tests
// share.

package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
)

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

// Tests of "demo events" run in process: flags, a notifier and a
// subscriber over UDP and TCP, unsubscribing, an unknown package, exit.

package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

// evLine is any event of "demo events": the union of their fields.
type evLine struct {
	Event       string `json:"event"`
	Role        string `json:"role"`
	CallID      string `json:"call_id"`
	Addr        string `json:"addr"`
	State       string `json:"state"`
	Body        string `json:"body"`
	ContentType string `json:"content_type"`
	Code        int    `json:"code"`
	CSeq        uint32 `json:"cseq"`
	Expires     int64  `json:"expires"`
	Reason      string `json:"reason"`
	Error       string `json:"error"`
	OK          bool   `json:"ok"`
	Cancelled   bool   `json:"cancelled"`
	Refresh     bool   `json:"refresh"`
	Status      int    `json:"status"`
	Method      string `json:"method"`
}

// evRun is the output of one run: its events in order and its stats.
type evRun struct {
	lines []evLine
	stats evStats
}

func (r *evRun) all(kind string) []evLine {
	var out []evLine
	for _, l := range r.lines {
		if l.Event == kind {
			out = append(out, l)
		}
	}
	return out
}

// kinds returns the event names in order, the listening and stats events
// left out.
func (r *evRun) kinds() []string {
	var out []string
	for _, l := range r.lines {
		if l.Event != "listening" && l.Event != "stats" {
			out = append(out, l.Event)
		}
	}
	return out
}

// evProc is one "demo events" run in this process, its events read from a
// pipe as it writes them.
type evProc struct {
	*proc
	run evRun // events read so far
}

// startEvents starts "demo events args..." and returns once it listens.
func startEvents(t *testing.T, args ...string) *evProc {
	t.Helper()
	p := &evProc{proc: startProc(t, "events", runEventsContext, args)}
	l := p.next()
	if l.Event != "listening" || l.Addr == "" {
		t.Fatalf("first event %+v, want listening\n%s", l, p.log.String())
	}
	p.addr = l.Addr
	return p
}

// next reads the next event, failing the test if none comes in time or
// the run has ended.
func (p *evProc) next() evLine {
	p.t.Helper()
	return p.add(p.proc.next())
}

func (p *evProc) add(b []byte) evLine {
	p.t.Helper()
	var l evLine
	if err := json.Unmarshal(b, &l); err != nil {
		p.t.Fatalf("%s: %v", b, err)
	}
	if l.Event == "stats" {
		if err := json.Unmarshal(b, &p.run.stats); err != nil {
			p.t.Fatalf("%s: %v", b, err)
		}
	}
	p.run.lines = append(p.run.lines, l)
	return l
}

// waitFor reads events until one of kind comes, and returns it.
func (p *evProc) waitFor(kind string) evLine {
	p.t.Helper()
	for {
		if l := p.next(); l.Event == kind {
			return l
		}
	}
}

// wait reads the events until the run ends and returns them all and the
// run's error.
func (p *evProc) wait() (*evRun, error) {
	p.t.Helper()
	err := p.drain(func(b []byte) { p.t.Helper(); p.add(b) })
	if p.run.stats.Event != "stats" {
		p.t.Fatalf("no stats event (err %v)\n%s", err, p.log.String())
	}
	return &p.run, err
}

func TestEventsFlags(t *testing.T) {
	if _, err := parseEventsFlags([]string{"-h"}, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v, want flag.ErrHelp", err)
	}
	var help strings.Builder
	parseEventsFlags([]string{"-h"}, &help)
	for _, want := range []string{"usage: demo events", "-subscribe", "-notifies", "notify_received", "subscriptions_left"} {
		if !strings.Contains(help.String(), want) {
			t.Errorf("-h does not mention %q", want)
		}
	}
	f, err := parseEventsFlags(nil, io.Discard)
	if err != nil || f.subscribe != "" || f.pkg != "test" || f.max != 0 || !f.terminate {
		t.Errorf("defaults %+v, %v", f, err)
	}
	f, err = parseEventsFlags([]string{"-subscribe", "sip:bob@127.0.0.1:5070", "-hold", "1s"}, io.Discard)
	if err != nil || f.max != 1 || f.expires != time.Minute {
		t.Errorf("subscriber %+v, %v: want -max 1 and -expires 1m", f, err)
	}
	for _, args := range [][]string{
		{"-transport", "tls"},
		{"-listen", "localhost:5070"},
		{"-notify=false"},
		{"-hold", "1s"},
		{"-expires", "10s"},
		{"-max", "-1"},
		{"-interval", "-1s"},
		{"-subscribe", "sip:bob@127.0.0.1", "-notify"},
		{"-subscribe", "sip:bob@127.0.0.1", "-notifies", "3"},
		{"-subscribe", "sip:bob@127.0.0.1", "-terminate=false"},
		{"-subscribe", "tel:+123"},
		{"-subscribe", "sip:bob@127.0.0.1", "-expires", "500ms"},
		{"stray"},
	} {
		if _, err := parseEventsFlags(args, io.Discard); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
	if err := runEventsContext(context.Background(), []string{"-package", "bad package"}, io.Discard, io.Discard); err == nil {
		t.Error("-package with a space: no error")
	}
}

// target is the -subscribe URI of a notifier at addr over proto.
func evTarget(addr, proto string) string {
	if proto == "tcp" {
		return "sip:bob@" + addr + ";transport=tcp"
	}
	return "sip:bob@" + addr
}

// TestEventsNotifyAndSubscribe runs a notifier and a subscriber on real
// sockets, over UDP and TCP: the subscriber gets the immediate NOTIFY, the
// -notifies more, then the terminated one, and both exit by themselves
// with nothing left.
func TestEventsNotifyAndSubscribe(t *testing.T) {
	for _, proto := range []string{"udp", "tcp"} {
		t.Run(proto, func(t *testing.T) {
			const more = 3
			notifier := startEvents(t, "-listen", "127.0.0.1:0", "-transport", proto, "-user", "bob",
				"-notifies", fmt.Sprint(more), "-interval", "10ms", "-max", "1")
			subscriber := startEvents(t, "-listen", "127.0.0.1:0", "-transport", proto, "-user", "alice",
				"-subscribe", evTarget(notifier.addr, proto), "-expires", "120s")
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("NOTIFIER LOG:\n%s", notifier.log.String())
					for {
						select {
						case l, ok := <-notifier.lines:
							if !ok {
								return
							}
							t.Logf("notifier: %s", l)
						case <-time.After(time.Second):
							return
						}
					}
				}
			})

			sub, err := subscriber.wait()
			if err != nil {
				t.Fatalf("subscriber: %v\n%s", err, subscriber.log.String())
			}
			want := []string{"subscribe_sent", "subscription_active"}
			for range more + 2 {
				want = append(want, "notify_received")
			}
			want = append(want, "terminated")
			// The 200 may come after the first NOTIFY (over TCP they take
			// two connections): its event is checked apart.
			got := slices.DeleteFunc(sub.kinds(), func(k string) bool { return k == "subscribe_response" })
			if !slices.Equal(got, want) || len(sub.all("subscribe_response")) != 1 {
				t.Errorf("subscriber events %q, want %q and one subscribe_response", sub.kinds(), want)
			}
			callID := sub.all("subscribe_sent")[0].CallID
			if r := sub.all("subscribe_response"); r[0].Code != 200 || r[0].Expires != 120 || r[0].CallID != callID {
				t.Errorf("subscribe_response %+v: want 200 with Expires 120", r[0])
			}
			notes := sub.all("notify_received")
			for i, n := range notes[:more+1] {
				if n.State != "active" || n.Body != fmt.Sprintf("state %d", i+1) || n.ContentType != "text/plain" ||
					n.Expires <= 100 || n.Expires > 120 || n.CallID != callID {
					t.Errorf("NOTIFY %d: %+v, want active, state %d, expires about 120", i+1, n, i+1)
				}
			}
			if last := notes[more+1]; last.State != "terminated" || last.Reason != "noresource" || last.Expires != -1 {
				t.Errorf("last NOTIFY %+v: want terminated;reason=noresource", last)
			}
			end := sub.all("terminated")[0]
			if !end.OK || end.Role != "subscriber" || end.Reason != "noresource" || end.Error != "event: terminated by the notifier" {
				t.Errorf("subscriber terminated %+v", end)
			}
			if s := sub.stats; s.Mode != "subscribe" || s.SubscriptionsStarted != 1 || s.SubscriptionsEstablished != 1 || s.SubscriptionsOK != 1 ||
				s.SubscriptionsFailed != 0 || s.NotifiesReceived != more+2 || s.SubscriptionsLeft != 0 || s.Dialogs != 0 {
				t.Errorf("subscriber stats %+v", s)
			}

			// The notifier has exited by itself (-max 1) once its final
			// NOTIFY was answered.
			not, err := notifier.wait()
			if err != nil {
				t.Fatalf("notifier: %v", err)
			}
			want = []string{"subscribe_received", "subscription_active"}
			for range more + 2 {
				want = append(want, "notify_sent")
			}
			want = append(want, "terminated")
			// The answer to the final NOTIFY, which ends the subscription,
			// can be read before the write of that NOTIFY has returned:
			// its notify_sent may follow the terminated event.
			got = not.kinds()
			if n := len(got); n >= 2 && got[n-2] == "terminated" {
				got[n-2], got[n-1] = got[n-1], got[n-2]
			}
			if !slices.Equal(got, want) {
				t.Errorf("notifier events %q, want %q", not.kinds(), want)
			}
			if r := not.all("subscribe_received")[0]; r.Code != 200 || r.Expires != 120 || r.Refresh || r.CallID != callID {
				t.Errorf("subscribe_received %+v", r)
			}
			sent := not.all("notify_sent")
			for i, n := range sent {
				wantState, wantBody := "active;expires=", fmt.Sprintf("state %d", i+1)
				if i == more+1 {
					wantState, wantBody = "terminated;reason=noresource", ""
				}
				if n.Code != 200 || !strings.HasPrefix(n.State, wantState) || n.Body != wantBody || n.CallID != callID ||
					(i > 0 && n.CSeq != sent[i-1].CSeq+1) {
					t.Errorf("notify_sent %d: %+v, want 200, %s, %q, CSeq in sequence", i, n, wantState, wantBody)
				}
			}
			if end := not.all("terminated")[0]; end.Role != "notifier" || end.Reason != "noresource" || !end.OK || end.CallID != callID {
				t.Errorf("notifier terminated %+v", end)
			}
			if s := not.stats; s.Mode != "notify" || s.SubscribesReceived != 1 || s.SubscriptionsAccepted != 1 || s.NotifiesSent != more+2 ||
				s.NotifiesFailed != 0 || s.SubscriptionsLeft != 0 || s.Dialogs != 0 || s.SendErrors != 0 {
				t.Errorf("notifier stats %+v", s)
			}
		})
	}
}

// TestEventsUnsubscribe: with -terminate=false the subscription lasts
// until the subscriber unsubscribes after -hold; refreshes every -refresh
// meanwhile each bring a NOTIFY.
func TestEventsUnsubscribe(t *testing.T) {
	notifier := startEvents(t, "-listen", "127.0.0.1:0", "-notifies", "0", "-terminate=false", "-max", "1")
	subscriber := startEvents(t, "-listen", "127.0.0.1:0", "-user", "alice", "-subscribe", evTarget(notifier.addr, "udp"),
		"-refresh", "20ms", "-hold", "70ms")
	sub, err := subscriber.wait()
	if err != nil {
		t.Fatalf("subscriber: %v\n%s", err, subscriber.log.String())
	}
	refreshes := sub.all("refresh")
	for _, r := range refreshes {
		if r.Error != "" {
			t.Errorf("refresh %+v", r)
		}
	}
	notes := sub.all("notify_received")
	if len(notes) != len(refreshes)+2 {
		t.Fatalf("%d NOTIFYs for %d refreshes, want 2 more", len(notes), len(refreshes))
	}
	for _, n := range notes[:len(notes)-1] {
		if n.State != "active" || n.Body != "state 1" {
			t.Errorf("NOTIFY %+v: want active with state 1", n)
		}
	}
	if last := notes[len(notes)-1]; last.State != "terminated" || last.Reason != "timeout" {
		t.Errorf("last NOTIFY %+v: want terminated;reason=timeout (RFC 6665 §4.2.1.4)", last)
	}
	if len(sub.all("unsubscribe_sent")) != 1 {
		t.Errorf("events %q: want one unsubscribe_sent", sub.kinds())
	}
	resp := sub.all("subscribe_response")
	if len(resp) != len(refreshes)+2 || resp[len(resp)-1].Code != 200 || resp[len(resp)-1].Expires != 0 {
		t.Errorf("subscribe_response %+v: want one per SUBSCRIBE, the last 200 with Expires 0", resp)
	}
	if end := sub.all("terminated")[0]; !end.OK || end.Reason != "timeout" || end.Error != "event: unsubscribed" {
		t.Errorf("subscriber terminated %+v", end)
	}
	if s := sub.stats; s.SubscriptionsOK != 1 || s.SubscriptionsLeft != 0 || s.Dialogs != 0 {
		t.Errorf("subscriber stats %+v", s)
	}

	not, err := notifier.wait()
	if err != nil {
		t.Fatalf("notifier: %v", err)
	}
	if end := not.all("terminated")[0]; end.Reason != "unsubscribed" || !end.OK {
		t.Errorf("notifier terminated %+v", end)
	}
	if s := not.stats; s.SubscribesReceived != 1 || s.RefreshesReceived != uint64(len(refreshes)) || s.NotifiesSent != uint64(len(notes)) || s.SubscriptionsLeft != 0 {
		t.Errorf("notifier stats %+v: want %d refreshes and %d NOTIFYs", s, len(refreshes), len(notes))
	}
	for _, r := range not.all("subscribe_received")[1:] {
		if !r.Refresh || r.Code != 200 {
			t.Errorf("subscribe_received %+v: want a refresh answered 200", r)
		}
	}
}

// TestEventsUnknownPackage: a SUBSCRIBE for a package the notifier does
// not serve gets 489 with Allow-Events; the subscriber exits with
// errSubscriptionsFailed.
func TestEventsUnknownPackage(t *testing.T) {
	notifier := startEvents(t, "-listen", "127.0.0.1:0", "-v")
	subscriber := startEvents(t, "-listen", "127.0.0.1:0", "-subscribe", evTarget(notifier.addr, "udp"), "-package", "other")
	sub, err := subscriber.wait()
	if !errors.Is(err, errSubscriptionsFailed) {
		t.Fatalf("subscriber: %v, want %v", err, errSubscriptionsFailed)
	}
	if r := sub.all("subscribe_response"); len(r) != 1 || r[0].Code != 489 {
		t.Errorf("subscribe_response %+v: want 489", r)
	}
	if end := sub.all("terminated"); len(end) != 1 || end[0].OK || !strings.Contains(end[0].Error, "489") {
		t.Errorf("terminated %+v: want a failure with 489", end)
	}
	if s := sub.stats; s.SubscriptionsFailed != 1 || s.SubscriptionsEstablished != 0 || s.SubscriptionsLeft != 0 {
		t.Errorf("subscriber stats %+v", s)
	}
	if r := notifier.waitFor("response_sent"); r.Method != "SUBSCRIBE" || r.Status != 489 {
		t.Errorf("response_sent %+v: want SUBSCRIBE 489", r)
	}
	notifier.stop()
	not, err := notifier.wait()
	if err != nil {
		t.Fatal(err)
	}
	if s := not.stats; s.SubscribesReceived != 0 || s.SubscriptionsLeft != 0 {
		t.Errorf("notifier stats %+v", s)
	}
}

// TestEventsExit: a notifier told to exit terminates the subscriptions it
// serves (reason noresource); the subscriber, whose two subscriptions
// were ended by the notifier, counts them as successes.
func TestEventsExit(t *testing.T) {
	notifier := startEvents(t, "-listen", "127.0.0.1:0", "-notifies", "0", "-terminate=false")
	subscriber := startEvents(t, "-listen", "127.0.0.1:0", "-subscribe", evTarget(notifier.addr, "udp"), "-max", "2")
	subscriber.waitFor("subscription_active")
	subscriber.waitFor("subscription_active")
	notifier.stop()
	not, err := notifier.wait()
	if err != nil {
		t.Fatal(err)
	}
	ends := not.all("terminated")
	if len(ends) != 2 || ends[0].Reason != "noresource" || ends[1].Reason != "noresource" {
		t.Errorf("notifier terminated %+v: want two with noresource", ends)
	}
	if s := not.stats; s.SubscriptionsAccepted != 2 || s.SubscriptionsLeft != 0 || s.Dialogs != 0 {
		t.Errorf("notifier stats %+v", s)
	}
	sub, err := subscriber.wait()
	if err != nil {
		t.Fatalf("subscriber: %v", err)
	}
	if s := sub.stats; s.SubscriptionsStarted != 2 || s.SubscriptionsOK != 2 || s.SubscriptionsLeft != 0 {
		t.Errorf("subscriber stats %+v", s)
	}
}

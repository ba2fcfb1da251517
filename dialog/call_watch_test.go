package dialog

import (
	"sync"
	"testing"

	"github.com/sipxfer/sipxfer/sip"
)

// watchLog records what a Watch function was told, safe for concurrent use.
type watchLog struct {
	mu  sync.Mutex
	got []CallState
}

func (l *watchLog) f(_ *Call, s CallState) {
	l.mu.Lock()
	l.got = append(l.got, s)
	l.mu.Unlock()
}

func (l *watchLog) check(t *testing.T, who string, want ...CallState) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.got) != len(want) {
		t.Fatalf("%s: told %v, want %v", who, l.got, want)
	}
	for i := range want {
		if l.got[i] != want[i] {
			t.Fatalf("%s: told %v, want %v", who, l.got, want)
		}
	}
}

// Both sides watch a call from its start: each hears it established, then
// ended, once each; the channels agree.
func TestWatchEstablishedThenEnded(t *testing.T) {
	w := newWorld(t)
	var bobLog, aliceLog watchLog
	var bobCall *Call
	alice := w.ua("alice", 5060, Config{})
	w.ua("bob", 5070, Config{OnInvite: func(c *Call, req *sip.Message) {
		bobCall = c
		c.Watch(bobLog.f)
		bobLog.check(t, "bob before answering")
		autoAnswer(c, req)
	}})
	c, err := alice.Dial("sip:bob@127.0.0.1:5070", nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Watch(aliceLog.f)
	if err := c.Wait(bg()); err != nil {
		t.Fatal(err)
	}
	aliceLog.check(t, "alice established", CallEstablished)
	bobLog.check(t, "bob established", CallEstablished)
	select {
	case <-c.Done():
		t.Fatal("Done closed while the call is up")
	default:
	}

	if err := c.Bye(bg()); err != nil {
		t.Fatal(err)
	}
	mustEnd(t, c, ErrLocalBye)
	mustEnd(t, bobCall, ErrRemoteBye)
	aliceLog.check(t, "alice ended", CallEstablished, CallEnded)
	bobLog.check(t, "bob ended", CallEstablished, CallEnded)
}

// A call that never comes up reports only its end.
func TestWatchRejected(t *testing.T) {
	w := newWorld(t)
	var bobLog, aliceLog watchLog
	alice := w.ua("alice", 5060, Config{})
	w.ua("bob", 5070, Config{OnInvite: func(c *Call, _ *sip.Message) {
		c.Watch(bobLog.f)
		c.Reject(486, "")
	}})
	c, err := alice.Dial("sip:bob@127.0.0.1:5070", nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Watch(aliceLog.f)
	if err := c.Wait(bg()); err == nil {
		t.Fatal("rejected call established")
	}
	aliceLog.check(t, "alice", CallEnded)
	bobLog.check(t, "bob", CallEnded)
	select {
	case <-c.Established():
		t.Fatal("Established closed for a rejected call")
	default:
	}
}

// Watch after the fact is told at once what the call went through, and
// Established and Done asked for only then are closed already.
func TestWatchLate(t *testing.T) {
	w := newWorld(t)
	alice := w.ua("alice", 5060, Config{})
	w.ua("bob", 5070, Config{OnInvite: autoAnswer})
	c, err := alice.Invite(bg(), "sip:bob@127.0.0.1:5070", nil)
	if err != nil {
		t.Fatal(err)
	}
	var up watchLog
	c.Watch(up.f)
	up.check(t, "watched once up", CallEstablished)
	if err := c.Bye(bg()); err != nil {
		t.Fatal(err)
	}
	var late watchLog
	c.Watch(late.f)
	late.check(t, "watched after the end", CallEstablished, CallEnded)
	up.check(t, "watched once up, after the end", CallEstablished, CallEnded)
	for name, ch := range map[string]<-chan struct{}{"Established": c.Established(), "Done": c.Done()} {
		select {
		case <-ch:
		default:
			t.Errorf("%s not closed after the call ended", name)
		}
	}
}

// Watchers added while the call ends on another goroutine each hear
// CallEstablished before CallEnded, once each (run with -race).
func TestWatchConcurrentWithEnd(t *testing.T) {
	w := newWorld(t)
	alice := w.ua("alice", 5060, Config{})
	w.ua("bob", 5070, Config{OnInvite: autoAnswer})
	c, err := alice.Invite(bg(), "sip:bob@127.0.0.1:5070", nil)
	if err != nil {
		t.Fatal(err)
	}
	const n = 8
	logs := make([]watchLog, n)
	var wg sync.WaitGroup
	for i := range logs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Watch(logs[i].f)
		}()
	}
	if err := c.Bye(bg()); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for i := range logs {
		logs[i].check(t, "watcher", CallEstablished, CallEnded)
	}
}

// A watcher may use the Call it is told about: here it hangs up as soon
// as the call is up, from inside the callback.
func TestWatchHangsUpFromCallback(t *testing.T) {
	w := newWorld(t)
	alice := w.ua("alice", 5060, Config{})
	var bobCall *Call
	w.ua("bob", 5070, Config{OnInvite: func(c *Call, req *sip.Message) { bobCall = c; autoAnswer(c, req) }})
	var log watchLog
	c, err := alice.Dial("sip:bob@127.0.0.1:5070", nil)
	if err != nil {
		t.Fatal(err)
	}
	byeErr := make(chan error, 1)
	c.Watch(func(c *Call, s CallState) {
		log.f(c, s)
		if s == CallEstablished {
			// Bye waits for its answer: not on the goroutine that
			// delivers it.
			go func() { byeErr <- c.Bye(bg()) }()
		}
	})
	if err := <-byeErr; err != nil {
		t.Fatal(err)
	}
	mustEnd(t, c, ErrLocalBye)
	mustEnd(t, bobCall, ErrRemoteBye)
	log.check(t, "alice", CallEstablished, CallEnded)
}

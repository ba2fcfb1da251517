package transaction

import (
	"context"
	"log/slog"
	"time"

	"github.com/sipxfer/sipxfer/transport"
)

// Default timer values (RFC 3261 Appendix A, Table 4).
const (
	DefaultT1 = 500 * time.Millisecond // RTT estimate
	DefaultT2 = 4 * time.Second        // maximum retransmit interval for non-INVITE requests and INVITE responses
	DefaultT4 = 5 * time.Second        // maximum time a message remains in the network
)

// minTimerD is the floor of Timer D on unreliable transports: RFC 3261
// §17.1.1.2 "a value of at least 32 seconds", since the client cannot know
// the server's T1.
const minTimerD = 32 * time.Second

// tryingDelay is how long an INVITE server transaction waits for the TU's
// first response before sending 100 Trying itself. RFC 3261 §17.2.1: it
// MUST send one "unless it knows that the TU will generate a provisional or
// final response within 200 ms"; waiting exactly that long means a TU that
// answers at once (a 401 challenge, a 486) costs no extra message, and any
// other gets its 100 Trying well before the first retransmission (T1).
const tryingDelay = 200 * time.Millisecond

// Config configures a Manager. The zero value is usable: every field has a
// default.
type Config struct {
	// Clock drives every timer; nil means transport.SystemClock(). Tests use
	// a *transport.FakeClock.
	Clock transport.Clock
	// T1, T2 and T4 of RFC 3261 Table 4; zero means 500 ms, 4 s and 5 s.
	// Every other timer derives from them (64*T1 for B, F, H, J, L, M).
	T1, T2, T4 time.Duration
	// TimerC, when positive, bounds how long an INVITE client transaction
	// waits for a final response after each provisional response other than
	// 100 (RFC 3261 §16.6 item 11, §16.7 step 2; the RFC asks for more than
	// 3 minutes). When it fires the transaction reports ErrTimeout with
	// Timer "C" (a 408) and ends; the TU should then CANCEL (Manager.Cancel).
	// Zero, the default, disables it: a UAC waits for the callee.
	TimerC time.Duration
	// Logger receives debug records of dropped and absorbed messages and
	// warnings of transport failures; nil discards them.
	Logger *slog.Logger
	// MaxUnanswered bounds the server transactions awaiting their final
	// response from the TU. A request over it is answered 503 (Service
	// Unavailable) with Retry-After at once, without a transaction, so a
	// TU that falls behind sheds load instead of holding ever more
	// requests. (Answered transactions are bounded by the arrival rate
	// times their 64*T1 life.) Default DefaultMaxUnanswered; negative: no
	// limit.
	MaxUnanswered int
}

// DefaultMaxUnanswered is the default of Config.MaxUnanswered: ten seconds
// of a thousand requests a second left unanswered.
const DefaultMaxUnanswered = 10_000

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.Clock == nil {
		c.Clock = transport.SystemClock()
	}
	if c.T1 <= 0 {
		c.T1 = DefaultT1
	}
	if c.T2 <= 0 {
		c.T2 = DefaultT2
	}
	if c.T4 <= 0 {
		c.T4 = DefaultT4
	}
	if c.Logger == nil {
		c.Logger = slog.New(discardHandler{})
	}
	if c.MaxUnanswered == 0 {
		c.MaxUnanswered = DefaultMaxUnanswered
	}
	return c
}

// discardHandler is slog.DiscardHandler, which Go 1.23 lacks.
type discardHandler struct{}

func (discardHandler) Enabled(context.Context, slog.Level) bool  { return false }
func (discardHandler) Handle(context.Context, slog.Record) error { return nil }
func (d discardHandler) WithAttrs([]slog.Attr) slog.Handler      { return d }
func (d discardHandler) WithGroup(string) slog.Handler           { return d }

// timerID names a timer by its RFC 3261 letter; timerTrying is the 200 ms
// wait before an automatic 100 Trying.
type timerID byte

const (
	timerNone   timerID = 0
	timerTrying timerID = '1'
	timerCancel timerID = '9' // 64*T1 after a CANCEL (RFC 3261 §9.1)
)

// String returns the timer's letter, "A" to "M", "100" for the wait before
// 100 Trying, or "CANCEL" for the wait for a final response after a CANCEL.
func (id timerID) String() string {
	switch id {
	case timerTrying:
		return "100"
	case timerCancel:
		return "CANCEL"
	}
	return string(rune(id))
}

// timerOwner is a transaction whose timers call back into it.
type timerOwner interface {
	onTimer(slot int, gen uint32)
}

// timerSlot holds one running timer of a transaction. A transaction has a
// few slots, each holding the timers that are never armed together (A then
// D then M, say). The generation number invalidates a callback that the
// clock had already started when the timer was stopped or replaced: the
// callback takes the transaction's lock and finds its generation stale.
// Guarded by the transaction's lock.
type timerSlot struct {
	t   transport.Timer
	id  timerID
	gen uint32
}

// arm starts timer id in slot i of o, replacing whatever the slot held.
func (s *timerSlot) arm(c transport.Clock, o timerOwner, i int, id timerID, d time.Duration) {
	s.stop()
	gen := s.gen
	s.id = id
	s.t = c.AfterFunc(d, func() { o.onTimer(i, gen) })
}

// armLife starts timer id in slot i of o on q, the Manager's lifeQueue
// for its duration (J, L, M: 64*T1; K, I: T4), replacing whatever the
// slot held.
func (s *timerSlot) armLife(q *lifeQueue, o timerOwner, i int, id timerID) {
	s.stop()
	s.id = id
	s.t = q
	q.push(o, i, s.gen)
}

// stop cancels the slot's timer, if any.
func (s *timerSlot) stop() {
	if s.t != nil {
		s.t.Stop()
		s.t = nil
	}
	s.id = timerNone
	s.gen++
}

// fire is called by onTimer with the transaction locked: it returns the id
// of the timer that fired and empties the slot, or timerNone when the
// callback is stale.
func (s *timerSlot) fire(gen uint32) timerID {
	if s.gen != gen || s.id == timerNone {
		return timerNone
	}
	id := s.id
	s.t, s.id = nil, timerNone
	s.gen++
	return id
}

// running reports whether the slot holds timer id.
func (s *timerSlot) running(id timerID) bool { return s.id == id }

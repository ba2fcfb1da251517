package dialog

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transaction"
)

// Session timers (RFC 4028): a call that nothing refreshes ends, so that a
// peer that died (a crashed instance behind a balancer, a lost network)
// does not leave its calls up forever on the other side.

// DefaultMinSE is the default of Config.MinSE and the least session
// interval RFC 4028 §4 allows (90 s).
const DefaultMinSE = 90 * time.Second

// ErrSessionExpired: no session refresh came within the session interval
// (RFC 4028 §10), and the call was ended with a BYE.
var ErrSessionExpired = errors.New("dialog: session expired")

// sessionExpires is a Session-Expires value (RFC 4028 §4): the interval
// and who refreshes, as written ("uac", "uas" or "").
type sessionExpires struct {
	interval  time.Duration
	refresher string
}

// parseSessionExpires reads "delta-seconds *(;se-params)"; ok is false
// when m has none, err set when it is malformed.
func parseSessionExpires(m *sip.Message) (se sessionExpires, ok bool, err error) {
	v := m.Get(sip.HeaderSessionExpires)
	if v == nil {
		return se, false, nil
	}
	parts := strings.Split(string(v), ";")
	n, err := strconv.ParseUint(strings.TrimSpace(parts[0]), 10, 32)
	if err != nil || n == 0 {
		return se, true, errors.New("dialog: malformed Session-Expires")
	}
	se.interval = time.Duration(n) * time.Second
	for _, p := range parts[1:] {
		name, value, _ := strings.Cut(strings.TrimSpace(p), "=")
		if strings.EqualFold(strings.TrimSpace(name), "refresher") {
			se.refresher = strings.ToLower(strings.TrimSpace(value))
		}
	}
	return se, true, nil
}

// minSE reads a request's Min-SE (RFC 4028 §5); 0 when absent or bad.
func minSE(m *sip.Message) time.Duration {
	n, err := strconv.ParseUint(strings.TrimSpace(string(m.GetName("Min-SE"))), 10, 32)
	if err != nil {
		return 0
	}
	return time.Duration(n) * time.Second
}

// retryInterval retries a request answered 422 Session Interval Too Small
// (RFC 4028 §7.3 for the initial INVITE, §7.4 for a refresh): the same
// request, next CSeq, with Min-SE the larger of the 422's and the
// request's (a MUST of §7.3) and Session-Expires that value, the
// refresher asked for kept. A 422 whose Min-SE is not above the interval
// asked for gives nothing to retry with (and could loop): the handler
// gets it, as it gets the 422 to a request without Session-Expires.
func (a *retrier) retryInterval(tx *transaction.ClientTx, r transaction.Response, m *sip.Message, rounds int, auth []byte) {
	se, ok, err := parseSessionExpires(m)
	need := minSE(r.Msg)
	cseq, cerr := m.CSeq()
	if !ok || err != nil || cerr != nil || need <= se.interval || rounds >= maxAuthRounds {
		a.h.HandleResponse(tx, r)
		return
	}
	need = max(need, minSE(m))
	v := secs(need)
	if se.refresher != "" {
		v += ";refresher=" + se.refresher
	}
	lines := sip.AppendHeaderName(nil, []byte("Session-Expires"), []byte(v))
	lines = sip.AppendHeaderName(lines, []byte("Min-SE"), []byte(secs(need)))
	if l, ok := a.h.(minSELearner); ok {
		l.learnMinSE(need)
	}
	a.resend(tx, r, m, cseq.Seq, isSessionInterval, lines, auth)
}

// isSessionInterval reports the fields a retry after 422 replaces.
func isSessionInterval(f sip.Field) bool {
	return f.Name == sip.HeaderSessionExpires || (f.Name == sip.HeaderOther && bytes.EqualFold(f.RawName, []byte("Min-SE")))
}

// minSELearner is a request handler that keeps the Min-SE a 422 taught,
// for the refreshes of the session to come (RFC 4028 §7.4).
type minSELearner interface {
	learnMinSE(time.Duration)
}

func (h inviteHandler) learnMinSE(d time.Duration) { h.c.learnMinSE(d) }

// reInviteHandler takes the responses of a re-INVITE of c.
type reInviteHandler struct {
	c *Call
	transaction.ClientHandlerFunc
}

func (h reInviteHandler) learnMinSE(d time.Duration) { h.c.learnMinSE(d) }

// learnMinSE records a Min-SE from a 422 or a refresh request received
// in the call's dialog: its refreshes carry the largest (RFC 4028 §7.4).
func (c *Call) learnMinSE(d time.Duration) {
	c.mu.Lock()
	c.stMinSE = max(c.stMinSE, d)
	c.mu.Unlock()
}

// refreshMinSE is the Min-SE of the call's refreshes: the UA's own, or
// more if a 422 or the peer's refresh named more.
func (c *Call) refreshMinSE() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return max(c.ua.cfg.MinSE, c.stMinSE)
}

// supportsTimer reports whether m's Supported or Require lists "timer".
func supportsTimer(m *sip.Message) bool {
	return m.HasToken(sip.HeaderSupported, "timer") || m.HasToken(sip.HeaderRequire, "timer")
}

func secs(d time.Duration) string { return strconv.FormatInt(int64(d/time.Second), 10) }

// sessionTimersOn reports whether the UA uses session timers.
func (ua *UA) sessionTimersOn() bool { return ua.cfg.SessionExpires > 0 }

// sessionHeaders are the header fields a session refresh or the initial
// INVITE carries when the UA uses session timers (RFC 4028 §7.1): the
// interval asked for and the least accepted. The refresher is left to the
// UAS to choose.
func (ua *UA) sessionHeaders() []Header {
	if !ua.sessionTimersOn() {
		return nil
	}
	return []Header{{"Session-Expires", secs(ua.cfg.SessionExpires)}, {"Min-SE", secs(ua.cfg.MinSE)}}
}

// tooSmall reports whether an INVITE (initial or refresh) asks for an
// interval under the UA's Min-SE, which RFC 4028 §8.1 answers 422 with
// Min-SE.
func (ua *UA) tooSmall(req *sip.Message) (bool, error) {
	if !ua.sessionTimersOn() {
		return false, nil
	}
	se, ok, err := parseSessionExpires(req)
	if err != nil {
		return false, err
	}
	return ok && se.interval < ua.cfg.MinSE, nil
}

// uasSession is what the UAS puts in its 2xx to a session-forming or
// refreshing request (RFC 4028 §9): the interval, at most the one asked
// for and at least both Min-SEs, and the refresher (the request's choice,
// else the UAC if it supports timers, else us); with the header fields to
// add. ours reports that this UA refreshes.
func (ua *UA) uasSession(req *sip.Message) (interval time.Duration, ours bool, hs []Header) {
	if !ua.sessionTimersOn() {
		return 0, false, nil
	}
	se, ok, err := parseSessionExpires(req)
	if err != nil {
		return 0, false, nil
	}
	interval = ua.cfg.SessionExpires
	if ok && se.interval < interval {
		interval = se.interval // §9: the UAS may lower it, never raise it
	}
	interval = max(interval, ua.cfg.MinSE, minSE(req))
	uacTimer := supportsTimer(req)
	refresher := se.refresher
	if refresher != "uac" && refresher != "uas" {
		refresher = "uas"
		if uacTimer {
			refresher = "uac"
		}
	}
	if !uacTimer {
		refresher = "uas" // §9: a UAC without timers cannot refresh
	}
	hs = []Header{{"Session-Expires", secs(interval) + ";refresher=" + refresher}}
	if uacTimer {
		hs = append(hs, Header{"Require", "timer"}) // §9
	}
	return interval, refresher == "uas", hs
}

// uasSession is UA.uasSession for a request received in c's dialog,
// whose Min-SE the call's own refreshes will carry (RFC 4028 §7.4).
func (c *Call) uasSession(req *sip.Message) (time.Duration, bool, []Header) {
	interval, ours, hs := c.ua.uasSession(req)
	if interval > 0 {
		c.learnMinSE(minSE(req))
	}
	return interval, ours, hs
}

// uacSession reads a 2xx to our session-forming or refreshing INVITE (RFC
// 4028 §7.2): the interval and whether we refresh; 0 when the 2xx has no
// Session-Expires (no session timer).
func (ua *UA) uacSession(resp *sip.Message) (time.Duration, bool) {
	if !ua.sessionTimersOn() {
		return 0, false
	}
	se, ok, err := parseSessionExpires(resp)
	if !ok || err != nil {
		return 0, false
	}
	return se.interval, se.refresher != "uas"
}

// startSessionTimer (re)arms the call's session timer for interval: the
// refresher sends a refresh at half of it (RFC 4028 §10), the other side
// ends the call with BYE if none has come by interval minus the lesser
// of 32 s and a third of it. A zero interval stops it.
func (c *Call) startSessionTimer(interval time.Duration, refresher bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stTimer != nil {
		c.stTimer.Stop()
		c.stTimer = nil
	}
	if interval <= 0 || c.state == CallEnded {
		c.stInterval = 0
		return
	}
	c.stInterval, c.stRefresher = interval, refresher
	c.stGen++
	gen := c.stGen
	if refresher {
		c.stTimer = c.ua.clock.AfterFunc(interval/2, func() { c.refreshSession(gen) })
		return
	}
	c.stTimer = c.ua.clock.AfterFunc(interval-min(32*time.Second, interval/3), func() { c.sessionExpired(gen) })
}

// stopSessionTimerLocked stops the timer; c.mu is held.
func (c *Call) stopSessionTimerLocked() {
	if c.stTimer != nil {
		c.stTimer.Stop()
		c.stTimer = nil
	}
	c.stInterval = 0
}

// refreshSession sends the refresh re-INVITE, with the session's own
// description (RFC 4028 §10: a refresh need not change it). If it fails
// the call is kept until its interval runs out.
func (c *Call) refreshSession(gen uint64) {
	c.mu.Lock()
	if gen != c.stGen || c.state != CallEstablished {
		c.mu.Unlock()
		return
	}
	c.stTimer = nil
	interval := c.stInterval
	ct, body := c.contentType, c.localBody
	c.mu.Unlock()
	// The refresh runs on a goroutine of the UA: ReInvite waits.
	c.ua.background(func(ctx context.Context) {
		ctx, cancel := context.WithTimeout(ctx, interval/2)
		defer cancel()
		// RFC 4028 §7.4: the refresher stays who it is: us, the UAC now.
		least := c.refreshMinSE()
		hs := []Header{{"Session-Expires", secs(max(interval, least)) + ";refresher=uac"}, {"Min-SE", secs(least)}}
		if _, err := c.reInvite(ctx, ct, body, hs); err != nil {
			c.ua.log.Debug("dialog: session refresh failed", "err", err)
			c.mu.Lock()
			stale := gen != c.stGen
			c.mu.Unlock()
			if !stale {
				// No refresh: the session ends when its interval does.
				c.startSessionTimerAt(interval/2-min(32*time.Second, interval/3), gen)
			}
		}
	})
}

// startSessionTimerAt arms the expiry alone, after d, if the timer is
// still generation gen.
func (c *Call) startSessionTimerAt(d time.Duration, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.stGen || c.state == CallEnded {
		return
	}
	if d < 0 {
		d = 0
	}
	c.stTimer = c.ua.clock.AfterFunc(d, func() { c.sessionExpired(gen) })
}

// sessionExpired ends a call whose session was not refreshed in time
// (RFC 4028 §10: the UA SHOULD send a BYE).
func (c *Call) sessionExpired(gen uint64) {
	c.mu.Lock()
	if gen != c.stGen {
		c.mu.Unlock()
		return
	}
	c.stTimer = nil
	c.mu.Unlock()
	c.ua.log.Debug("dialog: session expired")
	c.hangUp(ErrSessionExpired)
}

// handleUpdate answers an UPDATE in the call's dialog (RFC 3311), which
// can refresh the session (RFC 4028 §9). An UPDATE with a body is an
// offer; the session description being opaque here, the answer is the
// current local one.
func (c *Call) handleUpdate(r *Request) {
	c.mu.Lock()
	if c.state != CallEstablished && c.state != CallAnswered {
		c.mu.Unlock()
		r.Respond(481, "", nil)
		return
	}
	ct, body := c.contentType, c.localBody
	if len(r.Msg.Body()) > 0 {
		c.remoteBody = append([]byte(nil), r.Msg.Body()...)
	}
	c.mu.Unlock()
	if small, err := c.ua.tooSmall(r.Msg); err != nil {
		r.Respond(400, "Bad Session-Expires", nil)
		return
	} else if small {
		r.Respond(422, "", &ResponseOptions{Headers: []Header{{"Min-SE", secs(c.ua.cfg.MinSE)}}})
		return
	}
	interval, ours, hs := c.uasSession(r.Msg)
	o := &ResponseOptions{Headers: hs}
	if len(r.Msg.Body()) > 0 && len(body) > 0 {
		if ct == "" {
			ct = "application/sdp"
		}
		o.ContentType, o.Body = ct, body
	}
	if err := r.Respond(200, "", o); err == nil && interval > 0 {
		c.startSessionTimer(interval, ours)
	}
}

package refer

import (
	"errors"
	"time"

	"github.com/sipxfer/sipxfer/dialog"
	"github.com/sipxfer/sipxfer/event"
	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/sipfrag"
)

// DefaultExpires is the default duration of the implicit subscription a
// REFER creates. RFC 3515 §2.4.4: it "SHOULD be chosen to be longer than
// the time the referenced request will take"; an INVITE may ring for
// Timer C, more than 3 minutes (RFC 3261 §16.6).
const DefaultExpires = 200 * time.Second

// DefaultDecideWithin is the default of Config.DecideWithin.
const DefaultDecideWithin = time.Second

// DefaultProbeAfter is the default of Config.ProbeAfter. A notifier gives
// a NOTIFY up after Timer F, 64*T1 (32 s), and may then end the
// subscription without a word (RFC 6665 §4.2.2); a minute leaves it that
// time and a margin, so that the refresh usually finds the subscription
// already gone (a 403 or 481 at once rather than Timer N after it).
const DefaultProbeAfter = time.Minute

// DefaultMinNotifyInterval is the default of Config.MinNotifyInterval: RFC
// 3515 §3.10, "NOTIFYs to event refer SHOULD NOT be sent more frequently
// than once per second".
const DefaultMinNotifyInterval = time.Second

// MaxDecideWithin is the longest Config.DecideWithin New takes: a quarter
// of Timer F at the default T1 (64*T1 = 32 s), leaving the 2xx time to
// cross a lossy path before the REFER's sender gives up.
const MaxDecideWithin = 8 * time.Second

// Config configures an Agent. The zero value is usable.
type Config struct {
	// Policy is what a REFER's Refer-To may ask for (schemes, embedded
	// headers); nil is the zero Policy.
	Policy *Policy
	// OnRefer is called for each acceptable REFER received, with the
	// request checked (400, 403 and the like are answered before). It
	// decides with in.Accept, in.Reject or in.Defer, now or later; a REFER
	// undecided after DecideWithin is deferred (a 2xx and a pending NOTIFY,
	// RFC 3515 §2.4.7), so that it is always answered before its
	// transaction times out. Nil accepts every REFER that reaches it (see
	// AcceptOutsideDialog). It must not block.
	OnRefer func(in *Incoming)
	// AcceptOutsideDialog lets a REFER received outside any dialog reach
	// OnRefer even when it names no dialog of this UA with Target-Dialog
	// (RFC 4538). By default such a REFER gets 403: a stranger could
	// otherwise make this UA place calls (RFC 3515 §5, toll fraud). A REFER
	// inside a dialog, or outside one with a Target-Dialog naming one of
	// this UA's dialogs, comes from a party that knows the call, and is
	// accepted either way.
	AcceptOutsideDialog bool
	// AcceptCode is the 2xx that accepts a REFER: 200, as RFC 7647 §5
	// requires ("MUST NOT reply with a 202"), or 202 for peers that know
	// only RFC 3515 (§2.4.2). Default 200.
	AcceptCode int
	// IgnoreNoSubscription creates the implicit subscription even when a
	// REFER carries Refer-Sub: false. By default it is honoured (RFC 4488
	// §4): the 2xx echoes Refer-Sub: false and no NOTIFY is sent.
	IgnoreNoSubscription bool
	// Expires is the duration of the implicit subscriptions this UA
	// serves. Default DefaultExpires.
	Expires time.Duration
	// DecideWithin bounds how long OnRefer may leave a REFER undecided.
	// Default DefaultDecideWithin; at most MaxDecideWithin, since the
	// REFER's sender gives up after 64*T1 (RFC 3261 Timer F).
	DecideWithin time.Duration
	// MinNotifyInterval is the least time between two progress NOTIFYs of
	// one implicit subscription (RFC 3515 §3.10). Progress that comes
	// faster is coalesced: the newest status replaces the one waiting (a
	// sipfrag is the complete state, §2.4.5). The final NOTIFY is not held
	// back: it replaces any status still waiting and goes as soon as the
	// NOTIFY in flight, if any, is answered, so the transferor learns the
	// outcome at once; RFC 3515's rate is a SHOULD, and the final NOTIFY,
	// the last of the subscription, cannot start a stream of them. Default
	// DefaultMinNotifyInterval; negative: no limit.
	MinNotifyInterval time.Duration
	// ProbeAfter, for the transfers this UA sends, refreshes the implicit
	// subscription when no NOTIFY has come for this long (see
	// event.SubscribeOptions.ProbeAfter). A transferee whose progress
	// NOTIFY failed (a 408 from a proxy that lost the 200) may end the
	// subscription without telling (RFC 6665 §4.2.2); the refresh then
	// gets 403 (RFC 3515 §2.4.4) or 481 and the transfer ends with
	// ErrNoOutcome within ProbeAfter (plus 64*T1 at worst) of the last
	// NOTIFY, instead of at the subscription's expiry (Expires, 200 s by
	// default, plus 64*T1). A live transferee answers with its current
	// status, reported again as progress. Default DefaultProbeAfter;
	// negative: never.
	ProbeAfter time.Duration
	// NoAutoCall leaves the referenced request to the application: after
	// Accept it calls in.Notify itself. By default the Agent sends the
	// INVITE to the Refer-To target and reports its progress.
	NoAutoCall bool
	// CallOptions, when not nil, gives the options (session description,
	// From) of the INVITE the Agent sends to a Refer-To target; the Agent
	// adds Referred-By and the allowed embedded headers.
	CallOptions func(in *Incoming) *dialog.CallOptions
	// OnCall is called with the call the Agent placed for in, as soon as
	// it is dialled. It must not block.
	OnCall func(in *Incoming, c *dialog.Call)
	// Sipfrag builds the body of each NOTIFY from the referenced request's
	// status. Default: the status line alone (RFC 3515 §5.3: more could
	// leak information).
	Sipfrag func(code int, reason string) []byte
	// AuthorizeReplaces decides whether an INVITE with Replaces may take
	// over the call it names (RFC 3891 §3: the recipient MUST authorize it
	// as it would the replaced call; §6.1). Nil is PartyOfReplaced: only
	// a party of the replaced dialog, as the INVITE's From or its
	// Referred-By, may. AcceptReplaces answers the others 403.
	AuthorizeReplaces func(replaced *dialog.Dialog, req *sip.Message) bool
}

// Agent is the REFER machinery of one UA: it receives REFERs (the
// transferee's role) and sends them (the transferor's), over the UA's
// event Manager, which carries the "refer" event package (RFC 3515 §3).
type Agent struct {
	ua  *dialog.UA
	ev  *event.Manager
	cfg Config
}

// New returns the Agent of ua: it registers the "refer" event package with
// ev, takes REFER requests from ua, and advertises the option tags of the
// extensions it implements (norefersub, RFC 4488; tdialog, RFC 4538;
// replaces, RFC 3891).
func New(ua *dialog.UA, ev *event.Manager, cfg Config) (*Agent, error) {
	if cfg.AcceptCode == 0 {
		cfg.AcceptCode = 200 // RFC 7647 §5
	}
	if cfg.AcceptCode != 200 && cfg.AcceptCode != 202 {
		return nil, errors.New("refer: AcceptCode must be 200 or 202")
	}
	if cfg.Expires <= 0 {
		cfg.Expires = DefaultExpires
	}
	if cfg.DecideWithin <= 0 {
		cfg.DecideWithin = DefaultDecideWithin
	}
	if cfg.DecideWithin > MaxDecideWithin {
		return nil, errors.New("refer: DecideWithin must not exceed MaxDecideWithin")
	}
	if cfg.AuthorizeReplaces == nil {
		cfg.AuthorizeReplaces = PartyOfReplaced
	}
	if cfg.Sipfrag == nil {
		cfg.Sipfrag = statusLine
	}
	if cfg.MinNotifyInterval == 0 {
		cfg.MinNotifyInterval = DefaultMinNotifyInterval
	}
	if cfg.ProbeAfter == 0 {
		cfg.ProbeAfter = DefaultProbeAfter
	}
	// RFC 3515 §3: the refer event package; NOTIFY bodies are
	// message/sipfrag, a subscription lives in the REFER's dialog and
	// every REFER but the first in a dialog gets an id (§2.4.6), so
	// several may share it. Its NOTIFYs are complete state (§2.4.5), so
	// they may be coalesced under the rate limit of §3.10.
	err := ev.Register(event.Package{
		Name:              "refer",
		DefaultExpires:    cfg.Expires,
		Accept:            []string{"message/sipfrag"},
		MultiplePerDialog: true,
		Coalesce:          true,
		ImplicitOnly:      true,
		MinNotifyInterval: max(cfg.MinNotifyInterval, 0),
		OnSubscribe: func(_ *event.Notifier, r *event.SubscribeRequest) event.Answer {
			if r.Refresh {
				return event.Answer{} // refresh or end one a REFER made
			}
			// RFC 3515 §2.4.4: only REFER creates a refer subscription; a
			// SUBSCRIBE for one that does not exist MUST get 403.
			return event.Answer{Code: 403, Reason: "Only REFER Creates Refer Subscriptions"}
		},
	})
	if err != nil {
		return nil, err
	}
	a := &Agent{ua: ua, ev: ev, cfg: cfg}
	ua.Support("norefersub", "tdialog", "replaces")
	ua.Handle("REFER", dialog.HandlerFunc(a.handleRefer))
	return a, nil
}

// UA returns the user agent the Agent serves.
func (a *Agent) UA() *dialog.UA { return a.ua }

// Events returns the event Manager the Agent uses.
func (a *Agent) Events() *event.Manager { return a.ev }

// statusLine is the default sipfrag: the status line alone.
func statusLine(code int, reason string) []byte { return sipfrag.AppendStatus(nil, code, reason) }

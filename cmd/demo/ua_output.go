// What "demo ua" writes on standard output: the JSON events of calls,
// REFERs, NOTIFYs and transfers, the final stats, and the transport tracer
// that sees the responses the stack sends by itself.

package main

import (
	"strconv"
	"sync/atomic"

	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transport"
)

// responseTracer is the transport's Tracer: it counts the final responses
// sent, writes a refer_refused event for each non-2xx one to a REFER and,
// with -v, a request event for each. The dialog UA and the REFER Agent
// answer OPTIONS, BYE, unknown methods and bad REFERs themselves, so this
// is where the demo sees those answers.
type responseTracer struct {
	answered atomic.Uint64
	refused  atomic.Uint64 // non-2xx final responses to REFER
	events   *eventWriter
	verbose  bool
}

func (t *responseTracer) TraceMessage(tr *transport.Trace) {
	if !tr.Sent {
		return
	}
	code, ok := finalStatus(tr.Msg)
	if !ok {
		return
	}
	t.answered.Add(1)
	if !t.verbose && code < 300 {
		return
	}
	var m sip.Message
	if err := sip.Parse(&m, append([]byte(nil), tr.Msg...)); err != nil {
		return
	}
	cseq, err := m.CSeq()
	if err != nil {
		return
	}
	if code >= 300 && cseq.Method == sip.MethodRefer {
		t.refused.Add(1)
		t.events.write(referRefusedEvent{Event: "refer_refused", CallID: string(m.CallID()), Code: code, Reason: string(m.Reason())})
	}
	if t.verbose {
		t.events.write(requestEvent{Event: "request", Method: string(cseq.MethodName), CallID: string(m.CallID()), Status: code})
	}
}

// finalStatus returns the code of a final response's status line
// (RFC 3261 §7.2), without parsing the rest.
func finalStatus(msg []byte) (int, bool) {
	const prefix = "SIP/2.0 "
	if len(msg) < len(prefix)+3 || string(msg[:len(prefix)]) != prefix {
		return 0, false
	}
	code, err := strconv.Atoi(string(msg[len(prefix) : len(prefix)+3]))
	if err != nil || code < 200 {
		return 0, false
	}
	return code, true
}

type requestEvent struct {
	Event  string `json:"event"`
	Method string `json:"method"`
	CallID string `json:"call_id"`
	Status int    `json:"status"`
}

// callEvent is every call_* event; the fields an event has no use for are
// left out.
type callEvent struct {
	Event     string `json:"event"`
	CallID    string `json:"call_id"`
	Direction string `json:"direction,omitempty"` // "in" or "out"
	Purpose   string `json:"purpose,omitempty"`   // "consult", "referred" or none
	From      string `json:"from,omitempty"`
	Replaces  string `json:"replaces,omitempty"` // Call-ID named by a Replaces
	Status    int    `json:"status,omitempty"`
	Reason    string `json:"reason,omitempty"`
	ByeError  string `json:"bye_error,omitempty"`
	Cancelled bool   `json:"cancelled,omitempty"`
}

// referReceivedEvent is a REFER that reached the policy (transferee).
type referReceivedEvent struct {
	Event          string `json:"event"`
	CallID         string `json:"call_id"`
	ReferTo        string `json:"refer_to"`
	ID             string `json:"id"`
	InDialog       bool   `json:"in_dialog"`
	About          string `json:"about,omitempty"`
	NoReferSub     bool   `json:"norefersub"`
	NoSubscription bool   `json:"no_subscription"`
	Attended       bool   `json:"attended"`
	ReferredBy     string `json:"referred_by,omitempty"`
	Code           int    `json:"code"`
}

// referRefusedEvent is a non-2xx final response sent to a REFER.
type referRefusedEvent struct {
	Event  string `json:"event"`
	CallID string `json:"call_id"`
	Code   int    `json:"code"`
	Reason string `json:"reason,omitempty"`
}

// referSentEvent is a REFER sent (transferor).
type referSentEvent struct {
	Event       string `json:"event"`
	CallID      string `json:"call_id"`
	ReferTo     string `json:"refer_to"`
	OutOfDialog bool   `json:"out_of_dialog"`
	NoReferSub  bool   `json:"norefersub"`
	Attended    bool   `json:"attended"`
}

// referResponseEvent is the final response to a REFER sent.
type referResponseEvent struct {
	Event  string `json:"event"`
	CallID string `json:"call_id"`
	Code   int    `json:"code"`
	Reason string `json:"reason,omitempty"`
}

// notifyEvent is a NOTIFY of a transfer's subscription.
type notifyEvent struct {
	Event  string `json:"event"`
	CallID string `json:"call_id"`
	Code   int    `json:"code,omitempty"` // the sipfrag's status; absent if unreadable
	Reason string `json:"reason,omitempty"`
	State  string `json:"state"` // Subscription-State: active, pending or terminated
	Error  string `json:"error,omitempty"`
}

// transferResultEvent is how a transfer ended.
type transferResultEvent struct {
	Event          string `json:"event"`
	CallID         string `json:"call_id"`
	OK             bool   `json:"ok"`
	ReferCode      int    `json:"refer_code"`
	Code           int    `json:"code"`
	Reason         string `json:"reason,omitempty"`
	NoSubscription bool   `json:"no_subscription"`
	Cancelled      bool   `json:"cancelled,omitempty"`
	Error          string `json:"error,omitempty"`
}

// errorEvent is something the UA could not do.
type errorEvent struct {
	Event  string `json:"event"`
	CallID string `json:"call_id,omitempty"`
	Error  string `json:"error"`
}

// statsEvent is transport.Stats in snake case, the final responses sent,
// the dialogs and transactions still alive at exit (non-INVITE server
// transactions over UDP wait 64*T1 in Completed, RFC 3261 §17.2.2), and
// the calls.
type statsEvent struct {
	Event              string `json:"event"`
	Received           uint64 `json:"received"`
	Sent               uint64 `json:"sent"`
	SendErrors         uint64 `json:"send_errors"`
	ParseErrors        uint64 `json:"parse_errors"`
	Invalid            uint64 `json:"invalid"`
	Rejected           uint64 `json:"rejected"`
	DroppedRequests    uint64 `json:"dropped_requests"`
	DroppedResponses   uint64 `json:"dropped_responses"`
	KeepAlives         uint64 `json:"keep_alives"`
	Pongs              uint64 `json:"pongs"`
	FramingErrors      uint64 `json:"framing_errors"`
	RefusedConns       uint64 `json:"refused_conns"`
	IdleClosed         uint64 `json:"idle_closed"`
	OpenConns          int    `json:"open_conns"`
	Answered           uint64 `json:"answered"`
	TransactionsClient int    `json:"transactions_client"`
	TransactionsServer int    `json:"transactions_server"`
	Dialogs            int    `json:"dialogs"`
	// Requests refused for a limit: MaxUnanswered (503), MaxDialogs (503),
	// MaxSubscriptions or MaxPerDialog (503 or 403).
	Overloaded           uint64 `json:"overloaded"`
	DialogsRefused       uint64 `json:"dialogs_refused"`
	SubscriptionsRefused uint64 `json:"subscriptions_refused"`

	CallsPlaced              uint64 `json:"calls_placed"`
	CallsEstablished         uint64 `json:"calls_established"`
	CallsFailed              uint64 `json:"calls_failed"`
	CallsCancelled           uint64 `json:"calls_cancelled"`
	HangupsFailed            uint64 `json:"hangups_failed"`
	CallsReceived            uint64 `json:"calls_received"`
	CallsReceivedEstablished uint64 `json:"calls_received_established"`
	CallsReceivedFailed      uint64 `json:"calls_received_failed"`

	TransfersStarted         uint64 `json:"transfers_started"`
	TransfersOK              uint64 `json:"transfers_ok"`
	TransfersFailed          uint64 `json:"transfers_failed"`
	TransfersCancelled       uint64 `json:"transfers_cancelled"`
	RefersReceived           uint64 `json:"refers_received"`
	RefersAccepted           uint64 `json:"refers_accepted"`
	RefersDeclined           uint64 `json:"refers_declined"`
	RefersRefused            uint64 `json:"refers_refused"`
	ReferredCalls            uint64 `json:"referred_calls"`
	ReferredCallsEstablished uint64 `json:"referred_calls_established"`
	ReferredCallsFailed      uint64 `json:"referred_calls_failed"`
}

func newStatsEvent(s transport.Stats, answered uint64, client, server int) statsEvent {
	return statsEvent{
		Event:              "stats",
		Received:           s.Received,
		Sent:               s.Sent,
		SendErrors:         s.SendErrors,
		ParseErrors:        s.ParseErrors,
		Invalid:            s.Invalid,
		Rejected:           s.Rejected,
		DroppedRequests:    s.DroppedRequests,
		DroppedResponses:   s.DroppedResponses,
		KeepAlives:         s.KeepAlives,
		Pongs:              s.Pongs,
		FramingErrors:      s.FramingErrors,
		RefusedConns:       s.RefusedConns,
		IdleClosed:         s.IdleClosed,
		OpenConns:          s.OpenConns,
		Answered:           answered,
		TransactionsClient: client,
		TransactionsServer: server,
	}
}

// What "demo events" writes on standard output: the transport tracer that
// follows NOTIFYs and SUBSCRIBEs on the wire, and the JSON events and
// stats.

package main

import (
	"bytes"
	"sync"
	"sync/atomic"

	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transport"
)

// eventsTxKey names a transaction by Call-ID and CSeq number: enough to
// tell apart the NOTIFYs (or SUBSCRIBEs) of one agent.
type eventsTxKey struct {
	callID string
	seq    uint32
}

// evSentNotify is a NOTIFY seen by the tracer, waiting for the other half
// of its notify_sent event.
type evSentNotify struct {
	state, body string
	sent        bool
	code        int // 0 until the final response
}

// eventsTracer is the transport's Tracer. The event package reports no
// per-NOTIFY outcome, so this is where the agent sees its NOTIFYs and
// their answers (notify_sent), the answers to its SUBSCRIBEs
// (subscribe_response), and with -v every final response it sends.
type eventsTracer struct {
	out     *eventWriter
	verbose bool

	mu sync.Mutex
	// A response can be traced before the NOTIFY it answers (see
	// transport.Tracer), so each half waits here for the other. An entry
	// goes once both are in; a stray retransmission leaves one behind.
	notifies   map[eventsTxKey]*evSentNotify
	subscribes map[eventsTxKey]bool // SUBSCRIBEs answered, against retransmitted answers

	notifiesOK, notifiesFailed atomic.Uint64
}

func (t *eventsTracer) TraceMessage(tr *transport.Trace) {
	isResponse := bytes.HasPrefix(tr.Msg, []byte("SIP/2.0 "))
	switch {
	case tr.Sent && bytes.HasPrefix(tr.Msg, []byte("NOTIFY ")):
	case !tr.Sent && isResponse:
	case tr.Sent && isResponse && t.verbose:
	default:
		return
	}
	var m sip.Message
	if err := sip.Parse(&m, bytes.Clone(tr.Msg)); err != nil {
		return
	}
	cseq, err := m.CSeq()
	if err != nil {
		return
	}
	key := eventsTxKey{string(m.CallID()), cseq.Seq}
	code := m.StatusCode()
	switch {
	case tr.Sent && !isResponse:
		t.notifySent(key, string(m.Get(sip.HeaderSubscriptionState)), string(m.Body()))
	case tr.Sent:
		if code >= 200 {
			t.out.write(evResponseSent{Event: "response_sent", Method: string(cseq.MethodName), CallID: key.callID, CSeq: key.seq, Status: code})
		}
	case code < 200:
	case string(cseq.MethodName) == "NOTIFY":
		t.notifyAnswered(key, code)
	case string(cseq.MethodName) == "SUBSCRIBE":
		t.mu.Lock()
		dup := t.subscribes[key]
		t.subscribes[key] = true
		t.mu.Unlock()
		if dup {
			return
		}
		ev := evSubscribeResponse{Event: "subscribe_response", CallID: key.callID, CSeq: key.seq, Code: code, Expires: -1}
		if secs, ok, err := m.Expires(); ok && err == nil {
			ev.Expires = int64(secs)
		}
		t.out.write(ev)
	}
}

// notifySent takes a NOTIFY written to the network (a retransmission is
// ignored).
func (t *eventsTracer) notifySent(key eventsTxKey, state, body string) {
	t.mu.Lock()
	n := t.notifies[key]
	if n == nil {
		n = &evSentNotify{}
		t.notifies[key] = n
	}
	if n.sent {
		t.mu.Unlock()
		return
	}
	n.sent, n.state, n.body = true, state, body
	done := n.code != 0
	if done {
		delete(t.notifies, key)
	}
	t.mu.Unlock()
	if done {
		t.notifyDone(key, n)
	}
}

// notifyAnswered takes a final response to a NOTIFY of ours (a
// retransmitted one is ignored).
func (t *eventsTracer) notifyAnswered(key eventsTxKey, code int) {
	t.mu.Lock()
	n := t.notifies[key]
	if n == nil {
		n = &evSentNotify{}
		t.notifies[key] = n
	}
	if n.code != 0 {
		t.mu.Unlock()
		return
	}
	n.code = code
	done := n.sent
	if done {
		delete(t.notifies, key)
	}
	t.mu.Unlock()
	if done {
		t.notifyDone(key, n)
	}
}

func (t *eventsTracer) notifyDone(key eventsTxKey, n *evSentNotify) {
	if n.code < 300 {
		t.notifiesOK.Add(1)
	} else {
		t.notifiesFailed.Add(1)
	}
	t.out.write(evNotifySent{Event: "notify_sent", CallID: key.callID, CSeq: key.seq, State: n.state, Body: n.body, Code: n.code})
}

type evSubscribeReceived struct {
	Event   string `json:"event"`
	CallID  string `json:"call_id"`
	From    string `json:"from"`
	Expires int64  `json:"expires"`
	Refresh bool   `json:"refresh"`
	Code    int    `json:"code"`
}

type evActive struct {
	Event   string `json:"event"`
	Role    string `json:"role"`
	CallID  string `json:"call_id"`
	State   string `json:"state,omitempty"`
	Expires int64  `json:"expires"`
}

type evNotifySent struct {
	Event  string `json:"event"`
	CallID string `json:"call_id"`
	CSeq   uint32 `json:"cseq"`
	State  string `json:"state"`
	Body   string `json:"body"`
	Code   int    `json:"code"`
}

type evSubscribeSent struct {
	Event   string `json:"event"`
	CallID  string `json:"call_id"`
	Target  string `json:"target"`
	Expires int64  `json:"expires"`
}

type evSubscribeResponse struct {
	Event   string `json:"event"`
	CallID  string `json:"call_id"`
	CSeq    uint32 `json:"cseq"`
	Code    int    `json:"code"`
	Expires int64  `json:"expires"`
}

type evNotifyReceived struct {
	Event       string `json:"event"`
	CallID      string `json:"call_id"`
	State       string `json:"state"`
	Expires     int64  `json:"expires"`
	Reason      string `json:"reason,omitempty"`
	RetryAfter  int64  `json:"retry_after,omitempty"`
	ContentType string `json:"content_type,omitempty"`
	Body        string `json:"body"`
}

type evRefresh struct {
	Event  string `json:"event"`
	CallID string `json:"call_id"`
	Error  string `json:"error,omitempty"`
}

type evUnsubscribe struct {
	Event  string `json:"event"`
	CallID string `json:"call_id"`
}

type evTerminated struct {
	Event     string `json:"event"`
	Role      string `json:"role"`
	CallID    string `json:"call_id"`
	Reason    string `json:"reason,omitempty"`
	Error     string `json:"error,omitempty"`
	OK        bool   `json:"ok"`
	Cancelled bool   `json:"cancelled,omitempty"`
}

type evError struct {
	Event  string `json:"event"`
	CallID string `json:"call_id,omitempty"`
	Error  string `json:"error"`
}

type evResponseSent struct {
	Event  string `json:"event"`
	Method string `json:"method"`
	CallID string `json:"call_id"`
	CSeq   uint32 `json:"cseq"`
	Status int    `json:"status"`
}

// evStats is the last event of a run.
type evStats struct {
	Event            string `json:"event"`
	Mode             string `json:"mode"` // "notify" or "subscribe"
	Received         uint64 `json:"received"`
	Sent             uint64 `json:"sent"`
	SendErrors       uint64 `json:"send_errors"`
	ParseErrors      uint64 `json:"parse_errors"`
	Invalid          uint64 `json:"invalid"`
	Rejected         uint64 `json:"rejected"`
	DroppedRequests  uint64 `json:"dropped_requests"`
	DroppedResponses uint64 `json:"dropped_responses"`

	SubscribesReceived    uint64 `json:"subscribes_received"`
	RefreshesReceived     uint64 `json:"refreshes_received"`
	SubscriptionsAccepted uint64 `json:"subscriptions_accepted"`
	SubscriptionsRefused  uint64 `json:"subscriptions_refused"`
	NotifiesSent          uint64 `json:"notifies_sent"`
	NotifiesFailed        uint64 `json:"notifies_failed"`

	SubscriptionsStarted     uint64 `json:"subscriptions_started"`
	SubscriptionsEstablished uint64 `json:"subscriptions_established"`
	SubscriptionsOK          uint64 `json:"subscriptions_ok"`
	SubscriptionsFailed      uint64 `json:"subscriptions_failed"`
	SubscriptionsCancelled   uint64 `json:"subscriptions_cancelled"`
	NotifiesReceived         uint64 `json:"notifies_received"`

	SubscriptionsLeft  int `json:"subscriptions_left"`
	Dialogs            int `json:"dialogs"`
	TransactionsClient int `json:"transactions_client"`
	TransactionsServer int `json:"transactions_server"`
}

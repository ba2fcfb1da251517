package bench

import (
	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/sipfrag"
)

// messages are the benchmark messages by sub-benchmark name.
var messages = []struct {
	name string
	text string
}{
	{"invite", Invite},
	{"refer", Refer},
	{"notify", Notify},
	{"ok200", OK200},
}

// txKey is what a transaction layer reads from every message to match it
// to a transaction (RFC 3261 §17.1.3, §17.2.3) and a dialog (§12).
type txKey struct {
	branch  []byte
	host    []byte
	port    int
	seq     uint32
	method  sip.Method
	callID  []byte
	fromTag []byte
	toTag   []byte
}

// readTxKey parses b into m and reads its transaction key.
func readTxKey(m *sip.Message, b []byte) (txKey, error) {
	if err := sip.Parse(m, b); err != nil {
		return txKey{}, err
	}
	via, err := m.TopVia()
	if err != nil {
		return txKey{}, err
	}
	cseq, err := m.CSeq()
	if err != nil {
		return txKey{}, err
	}
	return txKey{
		branch: via.Branch, host: via.Host, port: via.Port,
		seq: cseq.Seq, method: cseq.Method,
		callID: m.CallID(), fromTag: m.FromTag(), toTag: m.ToTag(),
	}, nil
}

// referInfo is what a transferee reads from a REFER (RFC 3515 §2.4.2,
// RFC 3891, RFC 3892).
type referInfo struct {
	target     []byte // the Refer-To URI
	replaces   []byte // its Replaces header, unescaped into the caller's buffer
	referredBy []byte
	eventID    []byte
}

// readRefer reads the typed header fields of a parsed REFER, unescaping
// the Replaces header into buf.
func readRefer(m *sip.Message, buf []byte) (referInfo, error) {
	to, err := m.ReferTo()
	if err != nil {
		return referInfo{}, err
	}
	esc, _ := to.URI.Header("Replaces")
	replaces, err := sip.Unescape(buf[:0], esc)
	if err != nil {
		return referInfo{}, err
	}
	by, err := m.ReferredBy()
	if err != nil {
		return referInfo{}, err
	}
	ev, err := m.Event()
	if err != nil {
		return referInfo{}, err
	}
	return referInfo{target: to.URI.Raw, replaces: replaces, referredBy: by.URI.Raw, eventID: ev.ID}, nil
}

// appendRefer builds Refer with the builder functions, as a transferor's
// dialog layer would from its state.
func appendRefer(dst []byte) []byte {
	dst = sip.AppendRequestLine(dst, "REFER", "sip:bob@192.0.2.20:5060;transport=udp")
	dst = sip.AppendHeader(dst, sip.HeaderVia, "SIP/2.0/UDP 192.0.2.10:5060;rport;branch=z9hG4bK.3e1d7a9b02")
	dst = sip.AppendHeaderUint(dst, sip.HeaderMaxForwards, 70)
	dst = sip.AppendHeader(dst, sip.HeaderRoute, "<sip:proxy1.atlanta.example.com;lr>, <sip:proxy2.biloxi.example.com;lr>")
	dst = sip.AppendHeader(dst, sip.HeaderTo, `"Bob" <sip:bob@biloxi.example.com>;tag=a6c85cf`)
	dst = sip.AppendHeader(dst, sip.HeaderFrom, `"Alice" <sip:alice@atlanta.example.com>;tag=9fxced76sl`)
	dst = sip.AppendHeader(dst, sip.HeaderCallID, "3848276298220188511@atlanta.example.com")
	dst = sip.AppendCSeq(dst, 314161, "REFER")
	dst = sip.AppendHeader(dst, sip.HeaderContact, "<sip:alice@192.0.2.10:5060;transport=udp>")
	dst = sip.AppendHeader(dst, sip.HeaderReferTo, "<sip:carol@192.0.2.30?Replaces=7a3f9d0e2c%40192.0.2.30%3Bto-tag%3D5f35a3%3Bfrom-tag%3D8675309>")
	dst = sip.AppendHeader(dst, sip.HeaderReferredBy, "<sip:alice@atlanta.example.com>")
	dst = sip.AppendHeader(dst, sip.HeaderEvent, "refer")
	dst = sip.AppendHeader(dst, sip.HeaderSupported, "norefersub, replaces")
	dst = sip.AppendHeader(dst, sip.HeaderUserAgent, "sipxfer-bench/1.0")
	return sip.AppendNoBody(dst)
}

// appendOK appends the start of a 200 to the parsed INVITE req, as a UAS
// answers it: the copied fields and a To tag (RFC 3261 §8.2.6).
func appendOK(dst []byte, req *sip.Message) []byte {
	return sip.AppendNoBody(sip.AppendResponse(dst, req, 200, "", "a6c85cf"))
}

// notifyBody returns the sipfrag body of Notify.
func notifyBody() []byte {
	const sep = "\r\n\r\n"
	for i := 0; i+len(sep) <= len(Notify); i++ {
		if Notify[i:i+len(sep)] == sep {
			return []byte(Notify[i+len(sep):])
		}
	}
	panic("bench: Notify has no body")
}

// fragStatus reads the status of a sipfrag body.
func fragStatus(body []byte) (int, error) {
	code, _, err := sipfrag.Status(body)
	return code, err
}

// receive does what the transport and transaction layers do with each
// message they receive: parse, Validate (transport, RFC 3261 §8.1.1,
// §8.2.2), and read the transaction key (transaction, §17.1.3, §17.2.3).
func receive(m *sip.Message, b []byte) (txKey, error) {
	if err := sip.Parse(m, b); err != nil {
		return txKey{}, err
	}
	if err := m.Validate(); err != nil {
		return txKey{}, err
	}
	via, err := m.TopVia()
	if err != nil {
		return txKey{}, err
	}
	cseq, err := m.CSeq()
	if err != nil {
		return txKey{}, err
	}
	return txKey{
		branch: via.Branch, host: via.Host, port: via.Port,
		seq: cseq.Seq, method: cseq.Method,
		callID: m.CallID(), fromTag: m.FromTag(), toTag: m.ToTag(),
	}, nil
}

// access is what a user agent reads from a message it acts on, read the
// way the dialog, event and refer layers read it.
type access struct {
	txKey
	contact  []byte // first Contact URI (dialog target, RFC 3261 §12.1)
	referTo  []byte // Refer-To URI (RFC 3515 §2.1)
	event    []byte // Event type (RFC 6665 §8.2.1)
	eventID  []byte
	subState []byte // Subscription-State (RFC 6665 §8.2.3)
	expires  uint32
}

// parseAccess parses b into m and reads the header fields a user agent
// reads: the top Via branch, From and To tags, Call-ID, CSeq, the first
// Contact, and the Refer-To, Event and Subscription-State fields a message
// has.
func parseAccess(m *sip.Message, b []byte) (access, error) {
	var a access
	if err := sip.Parse(m, b); err != nil {
		return a, err
	}
	via, err := m.TopVia()
	if err != nil {
		return a, err
	}
	cseq, err := m.CSeq()
	if err != nil {
		return a, err
	}
	a.txKey = txKey{
		branch: via.Branch, host: via.Host, port: via.Port,
		seq: cseq.Seq, method: cseq.Method,
		callID: m.CallID(), fromTag: m.FromTag(), toTag: m.ToTag(),
	}
	if v := m.Get(sip.HeaderContact); v != nil {
		// As dialog reads a remote target: the first Contact, parsed.
		var na sip.NameAddr
		if err := na.Parse(v); err != nil {
			return a, err
		}
		a.contact = na.URI.Raw
	}
	if m.Has(sip.HeaderReferTo) {
		to, err := m.ReferTo()
		if err != nil {
			return a, err
		}
		a.referTo = to.URI.Raw
	}
	if m.Has(sip.HeaderEvent) {
		ev, err := m.Event()
		if err != nil {
			return a, err
		}
		a.event, a.eventID = ev.Type, ev.ID
	}
	if m.Has(sip.HeaderSubscriptionState) {
		ss, err := m.SubscriptionState()
		if err != nil {
			return a, err
		}
		a.subState, a.expires = ss.State, ss.Expires
	}
	return a, nil
}

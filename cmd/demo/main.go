// Command demo shows a SIP call transfer (RFC 3515, RFC 5589 §6) as a
// ladder diagram; "demo ua" runs a standalone user agent for interop tests
// (see ua.go, or "demo ua -h").
//
// The network run among three user agents arrives with the transport,
// transaction, dialog, event and refer layers. Until then the demo builds
// each message of a blind transfer with package sip, parses it back, and
// prints the ladder from what the parser read: start line, CSeq and the
// header fields of the step.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/sipfrag"
)

// step is one message of the transfer: who sends it to whom, and its bytes.
type step struct {
	from, to int
	msg      []byte
}

var agents = []string{"Alice", "Bob", "Carol"}

func main() {
	if len(os.Args) > 1 && (os.Args[1] == "ua" || os.Args[1] == "events") {
		sub := runUA
		if os.Args[1] == "events" {
			sub = runEvents
		}
		err := sub(os.Args[2:])
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "demo:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run() error {
	fmt.Println("Blind transfer (RFC 5589 §6): messages built and parsed by sipxfer; no network yet.")
	fmt.Printf("\n%-22s%-22s%s\n", agents[0], agents[1], agents[2])
	var m sip.Message
	for _, s := range blindTransfer() {
		if err := sip.Parse(&m, s.msg); err != nil {
			return err
		}
		if err := m.Validate(); err != nil {
			return err
		}
		label, err := describe(&m)
		if err != nil {
			return err
		}
		fmt.Println(arrow(s.from, s.to, label))
	}
	return nil
}

// describe names a message the way a ladder diagram does.
func describe(m *sip.Message) (string, error) {
	cseq, err := m.CSeq()
	if err != nil {
		return "", err
	}
	var b strings.Builder
	if m.IsRequest() {
		b.Write(m.MethodName())
	} else {
		fmt.Fprintf(&b, "%d %s", m.StatusCode(), m.Reason())
	}
	fmt.Fprintf(&b, " (CSeq %d)", cseq.Seq)
	if m.Has(sip.HeaderReferTo) {
		to, err := m.ReferTo()
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, " Refer-To: %s", to.URI.Raw)
	}
	if m.Method() == sip.MethodNotify {
		state, err := m.SubscriptionState()
		if err != nil {
			return "", err
		}
		code, reason, err := sipfrag.Status(m.Body())
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, " %s [%d %s]", state.State, code, reason)
	}
	return b.String(), nil
}

// arrow draws one ladder line from column from to column to.
func arrow(from, to int, label string) string {
	const width = 22
	lo, hi := min(from, to), max(from, to)
	line := strings.Repeat(" ", lo*width) + "|"
	body := strings.Repeat("-", (hi-lo)*width-2)
	if from < to {
		line += body + ">"
	} else {
		line = strings.Repeat(" ", lo*width) + "<" + body + "|"
	}
	return fmt.Sprintf("%-48s %s", line, label)
}

// blindTransfer returns the messages of RFC 5589 §6 between Alice (the
// transferor), Bob (the transferee) and Carol (the transfer target).
func blindTransfer() []step {
	const (
		alice = "sip:alice@127.0.0.1:5061"
		bob   = "sip:bob@127.0.0.1:5062"
		carol = "sip:carol@127.0.0.1:5063"
	)
	req := func(method, ruri, from, to, callID string, seq uint32, extra func([]byte) []byte, ct, body string) []byte {
		b := sip.AppendRequestLine(nil, method, ruri)
		b = sip.AppendHeader(b, sip.HeaderVia, "SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK"+method+callID)
		b = sip.AppendHeader(b, sip.HeaderMaxForwards, "70")
		b = sip.AppendHeader(b, sip.HeaderFrom, from)
		b = sip.AppendHeader(b, sip.HeaderTo, to)
		b = sip.AppendHeader(b, sip.HeaderCallID, callID)
		b = sip.AppendCSeq(b, seq, method)
		if extra != nil {
			b = extra(b)
		}
		return sip.AppendBody(b, ct, body)
	}
	resp := func(r []byte, code int, tag string, extra func([]byte) []byte) []byte {
		var m sip.Message
		if err := sip.Parse(&m, append([]byte(nil), r...)); err != nil {
			panic(err) // the demo's own messages always parse
		}
		b := sip.AppendResponse(nil, &m, code, "", tag)
		if extra != nil {
			b = extra(b)
		}
		return sip.AppendNoBody(b)
	}
	notify := func(seq uint32, state string, code int) []byte {
		return req("NOTIFY", alice, "<"+bob+">;tag=b1", "<"+alice+">;tag=a1", "call1", seq,
			func(b []byte) []byte {
				b = sip.AppendHeader(b, sip.HeaderEvent, "refer")
				return sip.AppendHeader(b, sip.HeaderSubscriptionState, state)
			}, sipfrag.ContentType, string(sipfrag.AppendStatus(nil, code, "")))
	}
	invite := req("INVITE", bob, "<"+alice+">;tag=a1", "<"+bob+">", "call1", 1, nil, "", "")
	refer := req("REFER", bob, "<"+alice+">;tag=a1", "<"+bob+">;tag=b1", "call1", 2,
		func(b []byte) []byte {
			b = sip.AppendHeader(b, sip.HeaderReferTo, "<"+carol+">")
			return sip.AppendHeader(b, sip.HeaderReferredBy, "<"+alice+">")
		}, "", "")
	invite2 := req("INVITE", carol, "<"+bob+">;tag=b2", "<"+carol+">", "call2", 1,
		func(b []byte) []byte { return sip.AppendHeader(b, sip.HeaderReferredBy, "<"+alice+">") }, "", "")
	bye := req("BYE", bob, "<"+alice+">;tag=a1", "<"+bob+">;tag=b1", "call1", 3, nil, "", "")
	return []step{
		{0, 1, invite},
		{1, 0, resp(invite, 200, "b1", nil)},
		{0, 1, req("ACK", bob, "<"+alice+">;tag=a1", "<"+bob+">;tag=b1", "call1", 1, nil, "", "")},
		{0, 1, refer},
		{1, 0, resp(refer, 202, "", nil)},
		{1, 0, notify(1, "active;expires=60", 100)},
		{1, 2, invite2},
		{2, 1, resp(invite2, 200, "c1", nil)},
		{1, 0, notify(2, "terminated;reason=noresource", 200)},
		{0, 1, bye},
		{1, 0, resp(bye, 200, "", nil)},
	}
}

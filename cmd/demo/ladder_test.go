// Tests of the ladder diagram: the text drawn for a transfer, retransmissions,
// strangers, verbose mode, colour, concurrent traces and a run over UDP.

package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transport"
)

func TestLadderBlindTransfer(t *testing.T) {
	var out bytes.Buffer
	l := newTestLadder(&out, false)
	l.Section("Blind transfer")
	traceExchange(l, testAlice, testBob, testInvite)
	traceExchange(l, testBob, testAlice, testTrying)
	traceExchange(l, testBob, testAlice, testRinging)
	traceExchange(l, testBob, testAlice, testOK)
	traceExchange(l, testAlice, testBob, testACK)
	traceExchange(l, testAlice, testBob, testHold)
	traceExchange(l, testAlice, testBob, testRefer)
	traceExchange(l, testBob, testAlice, testAccepted)
	traceExchange(l, testBob, testAlice, testNotifyTrying)
	traceExchange(l, testBob, testCarol, testInviteCarol)
	traceExchange(l, testBob, testAlice, testNotifyOK)
	l.Note("Alice hangs up her call with Carol")
	traceExchange(l, testAlice, testCarol, testBye)
	l.Summary(nil)

	want := `

━━ Blind transfer ━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━
Alice             Bob               Carol
│────────────────>│                 │  INVITE (CSeq 1 INVITE)
│<────────────────│                 │  100 Trying (CSeq 1 INVITE)
│<────────────────│                 │  180 Ringing (CSeq 1 INVITE)
│<────────────────│                 │  200 OK (CSeq 1 INVITE)
│────────────────>│                 │  ACK (CSeq 1 ACK)
│────────────────>│                 │  INVITE (CSeq 2 INVITE)  hold: a=sendonly
│────────────────>│                 │  REFER (CSeq 3 REFER)  Refer-To: <sip:carol@127.0.0.1:5063>
│<────────────────│                 │  202 Accepted (CSeq 3 REFER)
│<────────────────│                 │  NOTIFY (CSeq 1 NOTIFY)  Event: refer
│                 │                 │    Subscription-State: active;expires=60
│                 │                 │    sipfrag: SIP/2.0 100 Trying
│                 │────────────────>│  INVITE (CSeq 1 INVITE)  Replaces: call3;to-tag=c3;from-tag=a3
│<────────────────│                 │  NOTIFY (CSeq 2 NOTIFY)  Event: refer
│                 │                 │    Subscription-State: terminated;reason=noresource
│                 │                 │    sipfrag: SIP/2.0 200 OK
│                 │                 │  Alice hangs up her call with Carol
│──────────────────────────────────>│  BYE (CSeq 7 BYE)
✓ Blind transfer succeeded in 10ms: 12 messages, 0 retransmissions
`
	checkLadderLines(t, out.String(), want)
}

// checkLadderLines compares got with want line by line, and checks that no
// line is wider than a 100-column terminal.
func checkLadderLines(t *testing.T, got, want string) {
	t.Helper()
	want = strings.TrimPrefix(want, "\n") // the first line of a raw string
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
		g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
		for i := 0; i < min(len(g), len(w)); i++ {
			if g[i] != w[i] {
				t.Errorf("first difference, line %d:\n got %q\nwant %q", i+1, g[i], w[i])
				break
			}
		}
	}
	for i, line := range strings.Split(got, "\n") {
		if n := utf8.RuneCountInString(line); n > lineWidth {
			t.Errorf("line %d is %d columns wide: %q", i+1, n, line)
		}
	}
}

// TestLadderFirstTrace checks that a message is drawn at its first trace:
// on a socket, the receiver may trace a request, and send and trace its
// answer, before the sender's write returns and traces the request.
func TestLadderFirstTrace(t *testing.T) {
	var out bytes.Buffer
	l := newTestLadder(&out, false)
	l.Section("Race")
	l.TraceMessage(&transport.Trace{Local: testBob, Remote: testAlice, Msg: stampedByReceiver(testInvite, testAlice)})
	l.TraceMessage(&transport.Trace{Sent: true, Local: testBob, Remote: testAlice, Msg: testTrying})
	l.TraceMessage(&transport.Trace{Sent: true, Local: testAlice, Remote: testBob, Msg: testInvite})
	l.TraceMessage(&transport.Trace{Local: testAlice, Remote: testBob, Msg: testTrying})
	l.Summary(nil)
	want := `

━━ Race ━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━
Alice             Bob               Carol
│────────────────>│                 │  INVITE (CSeq 1 INVITE)
│<────────────────│                 │  100 Trying (CSeq 1 INVITE)
✓ Race succeeded in 10ms: 2 messages, 0 retransmissions
`
	checkLadderLines(t, out.String(), want)
}

// TestLadderRetransmissions checks that a message sent again is drawn dim
// and counted, whether or not its first copy arrived, with no more than
// what it is, and that Section restarts the counts.
func TestLadderRetransmissions(t *testing.T) {
	var out bytes.Buffer
	l := newTestLadder(&out, false)
	l.Section("Lossy")
	// The first INVITE is lost; Timer A sends it again (RFC 3261 §17.1.1.2).
	l.TraceMessage(&transport.Trace{Sent: true, Local: testAlice, Remote: testBob, Msg: testInvite})
	traceExchange(l, testAlice, testBob, testInvite)
	traceExchange(l, testBob, testAlice, testOK)
	traceExchange(l, testAlice, testBob, testACK)
	// The 200 went again before the ACK arrived (§13.3.1.4); each 200
	// gets an ACK (§13.2.2.4).
	traceExchange(l, testBob, testAlice, testOK)
	traceExchange(l, testAlice, testBob, testACK)
	l.Summary(errors.New("timed out"))
	l.Section("Clean")
	traceExchange(l, testAlice, testBob, testInvite)
	l.Summary(nil)
	want := `

━━ Lossy ━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━
Alice             Bob               Carol
│────────────────>│                 │  INVITE (CSeq 1 INVITE)
│────────────────>│                 │  INVITE (CSeq 1 INVITE)  (retransmission)
│<────────────────│                 │  200 OK (CSeq 1 INVITE)
│────────────────>│                 │  ACK (CSeq 1 ACK)
│<────────────────│                 │  200 OK (CSeq 1 INVITE)  (retransmission)
│────────────────>│                 │  ACK (CSeq 1 ACK)  (retransmission)
✗ Lossy failed after 10ms: timed out; 6 messages, 3 retransmissions

━━ Clean ━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━
Alice             Bob               Carol
│────────────────>│                 │  INVITE (CSeq 1 INVITE)
✓ Clean succeeded in 10ms: 1 message, 0 retransmissions
`
	checkLadderLines(t, out.String(), want)
}

// TestLadderStrangers checks the column of an address no party was added
// with, drawn from its one trace; the long label of an attended transfer's
// REFER, wrapped between parameters to fit 100 columns, the Call-ID too
// long for the four columns' narrow label abbreviated with '…'; and a
// message to oneself.
func TestLadderStrangers(t *testing.T) {
	var out bytes.Buffer
	l := newTestLadder(&out, false)
	sipp := testAddr("192.0.2.9:5999")
	l.TraceMessage(&transport.Trace{Local: testAlice, Remote: sipp, Msg: testInvite})
	l.TraceMessage(&transport.Trace{Sent: true, Local: testAlice, Remote: sipp, Msg: testTrying})
	refer := bytes.Replace(testRefer, []byte("<sip:carol@127.0.0.1:5063>"), []byte(
		"<sip:carol@127.0.0.1:5063?Replaces=6f1c2a9e-0b7d-4c52-a0f3-3d2e1f4c5b6a%40127.0.0.1"+
			"%3Bto-tag%3D8a7b6c5d4e3f%3Bfrom-tag%3D1a2b3c4d5e6f>"), 1)
	refer = bytes.Replace(refer, []byte("Contact:"), []byte("Refer-Sub: false\r\nContact:"), 1)
	traceExchange(l, testAlice, testBob, refer)
	traceExchange(l, testCarol, testCarol, testBye)
	want := `
Alice             Bob               Carol             192.0.2.9:5999
│<────────────────────────────────────────────────────│  INVITE (CSeq 1 INVITE)
│────────────────────────────────────────────────────>│  100 Trying (CSeq 1 INVITE)
│────────────────>│                 │                 │  REFER (CSeq 3 REFER)
│                 │                 │                 │    Refer-To: <sip:carol@127.0.0.1:5063
│                 │                 │                 │    ?Replaces=6f1c2a9e-0b7d-4c52-a0f3-3d2e1f…
│                 │                 │                 │    %3Bto-tag%3D8a7b6c5d4e3f
│                 │                 │                 │    %3Bfrom-tag%3D1a2b3c4d5e6f>
│                 │                 │                 │    Refer-Sub: false
│                 │                 │↺                │  BYE (CSeq 7 BYE)
`
	checkLadderLines(t, out.String(), want)
}

// TestLadderVerbose checks that verbose mode prints the message under its
// arrow, as its first trace saw it.
func TestLadderVerbose(t *testing.T) {
	var out bytes.Buffer
	l := newTestLadder(&out, false)
	l.Verbose = true
	traceExchange(l, testBob, testAlice, testNotifyTrying)
	want := `
Alice             Bob               Carol
│<────────────────│                 │  NOTIFY (CSeq 1 NOTIFY)  Event: refer
│                 │                 │    Subscription-State: active;expires=60
│                 │                 │    sipfrag: SIP/2.0 100 Trying
    NOTIFY sip:alice@127.0.0.1:5061 SIP/2.0
    Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bKnot1;rport
    Max-Forwards: 70
    From: <sip:bob@127.0.0.1:5062>;tag=b1
    To: <sip:alice@127.0.0.1:5061>;tag=a1
    Call-ID: call1
    CSeq: 1 NOTIFY
    Event: refer
    Subscription-State: active;expires=60
    Content-Type: message/sipfrag;version=2.0
    Content-Length: 20
    
    SIP/2.0 100 Trying

`
	checkLadderLines(t, out.String(), want)
}

// TestLadderColour checks that colour on paints with ANSI escapes, a class
// of message each, and that colour off writes none.
func TestLadderColour(t *testing.T) {
	for _, colour := range []bool{false, true} {
		var out bytes.Buffer
		l := newTestLadder(&out, colour)
		l.Section("Colour")
		traceExchange(l, testAlice, testBob, testInvite)
		traceExchange(l, testBob, testAlice, testTrying)
		traceExchange(l, testBob, testAlice, testOK)
		traceExchange(l, testAlice, testBob, testRefer)
		traceExchange(l, testBob, testAlice, testNotifyTrying)
		l.TraceMessage(&transport.Trace{Sent: true, Local: testAlice, Remote: testBob, Msg: testRefer})
		l.TraceMessage(&transport.Trace{Sent: true, Local: testAlice, Remote: testBob, Msg: []byte("garbage\r\n\r\n")})
		l.Summary(nil)
		got := out.String()
		if !colour {
			if strings.Contains(got, "\x1b") {
				t.Errorf("colour off wrote an escape:\n%q", got)
			}
			continue
		}
		for _, want := range []string{
			ansiBold + "━━ Colour ",
			ansiBold + "Alice             Bob               Carol" + ansiReset,
			colourInvite + "────────────────>" + ansiReset + "│                 │  " + colourInvite + "INVITE (CSeq 1 INVITE)" + ansiReset,
			colour1xx + "100 Trying (CSeq 1 INVITE)" + ansiReset,
			colour2xx + "200 OK (CSeq 1 INVITE)" + ansiReset,
			colourRefer + "REFER (CSeq 3 REFER)  Refer-To: <sip:carol@127.0.0.1:5063>" + ansiReset,
			colourEvent + "NOTIFY (CSeq 1 NOTIFY)  Event: refer" + ansiReset,
			ansiDim + "────────────────>" + ansiReset + "│                 │  " + ansiDim + "REFER (CSeq 3 REFER)  (retransmission)" + ansiReset,
			colourError + "unparsable, 11 bytes: ",
			ansiGreen + "✓ Colour succeeded",
		} {
			if !strings.Contains(got, want) {
				t.Errorf("colour on: no %q in\n%s", want, got)
			}
		}
	}
}

// TestLadderConcurrent traces from several goroutines at once, as the
// layers of a run do, and checks that every line is whole and every
// message drawn once. Run it with -race.
func TestLadderConcurrent(t *testing.T) {
	var out bytes.Buffer
	l := newTestLadder(&out, false)
	l.Section("Concurrent")
	const n = 50
	pairs := [][2]transport.Addr{{testAlice, testBob}, {testBob, testCarol}, {testCarol, testAlice}}
	var wg sync.WaitGroup
	for p, pair := range pairs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n {
				msg := bytes.Replace(testBye, []byte("CSeq: 7"), []byte(fmt.Sprintf("CSeq: %d", p*n+i+1)), 1)
				traceExchange(l, pair[0], pair[1], msg)
			}
		}()
	}
	wg.Wait()
	l.Summary(nil)

	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	arrows := 0
	for _, line := range lines[3 : len(lines)-1] {
		if !strings.HasPrefix(line, "│") || !strings.HasSuffix(line, " BYE)") {
			t.Errorf("torn line %q", line)
		}
		arrows++
	}
	if arrows != len(pairs)*n {
		t.Errorf("%d arrows, want %d", arrows, len(pairs)*n)
	}
	if want := fmt.Sprintf("%d messages, 0 retransmissions", len(pairs)*n); !strings.HasSuffix(lines[len(lines)-1], want) {
		t.Errorf("summary %q, want it to end %q", lines[len(lines)-1], want)
	}
}

func TestColourWanted(t *testing.T) {
	regular, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer regular.Close()
	// /dev/null is a character device, as a terminal is.
	tty, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer tty.Close()
	for _, tc := range []struct {
		f              *os.File
		noColour, term string
		want           bool
	}{
		{regular, "", "xterm", false},
		{tty, "", "xterm", true},
		{tty, "1", "xterm", false},
		{tty, "", "dumb", false},
	} {
		t.Setenv("NO_COLOR", tc.noColour)
		t.Setenv("TERM", tc.term)
		if got := colourWanted(tc.f); got != tc.want {
			t.Errorf("colourWanted(%s) with NO_COLOR=%q TERM=%q = %v, want %v", tc.f.Name(), tc.noColour, tc.term, got, tc.want)
		}
	}
}

// TestLadderOverUDP runs requests and answers between two transport layers
// on 127.0.0.1, a Ladder and a PcapWriter attached to both, and checks that
// each message is drawn and recorded once, every answer after its request,
// however the two sockets' traces interleave (here, often the receiver's
// first).
func TestLadderOverUDP(t *testing.T) {
	var out, capture bytes.Buffer
	ladder := NewLadder(&out, false)
	pcap, err := NewPcapWriter(&capture, nil)
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := transport.Config{Logger: quiet, Tracer: tracers{ladder, pcap}}
	answered := make(chan struct{}, 1)
	alice := transport.New(cfg, transport.HandlerFunc(func(in *transport.Inbound) { answered <- struct{}{} }))
	defer alice.Close()
	var bob *transport.Layer
	bob = transport.New(cfg, transport.HandlerFunc(func(in *transport.Inbound) {
		resp := sip.AppendNoBody(sip.AppendResponse(nil, in.Msg, 200, "", "b1"))
		if err := bob.SendResponse(in.Reply, resp); err != nil {
			t.Error(err)
		}
	}))
	defer bob.Close()
	loopback := netip.MustParseAddrPort("127.0.0.1:0")
	aliceAt, err := alice.ListenUDP(loopback)
	if err != nil {
		t.Fatal(err)
	}
	bobAt, err := bob.ListenUDP(loopback)
	if err != nil {
		t.Fatal(err)
	}
	ladder.AddParty("Alice", aliceAt)
	ladder.AddParty("Bob", bobAt)

	const n = 20
	for i := range n {
		req := testMessage(fmt.Sprintf(`
OPTIONS sip:bob@%v SIP/2.0
Max-Forwards: 70
From: <sip:alice@%v>;tag=a1
To: <sip:bob@%v>
Call-ID: options%d
CSeq: %d OPTIONS
`, bobAt.AddrPort, aliceAt.AddrPort, bobAt.AddrPort, i, i+1), "")
		if _, _, err := alice.SendRequest(bobAt, transport.NewBranch(nil), req); err != nil {
			t.Fatal(err)
		}
		select {
		case <-answered:
		case <-time.After(5 * time.Second):
			t.Fatalf("no answer to request %d", i+1)
		}
	}
	// Bob's trace of his last answer may still be on its way.
	for deadline := time.Now().Add(5 * time.Second); pcap.Count() < 2*n && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	ladder.Summary(nil)

	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 1+2*n+1 {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), 1+2*n+1, out.String())
	}
	for i := range n {
		req := fmt.Sprintf("│────────────────>│  OPTIONS (CSeq %d OPTIONS)", i+1)
		resp := fmt.Sprintf("│<────────────────│  200 OK (CSeq %d OPTIONS)", i+1)
		if lines[1+2*i] != req || lines[2+2*i] != resp {
			t.Errorf("lines %d, %d:\n%s\n%s\nwant\n%s\n%s", 2+2*i, 3+2*i, lines[1+2*i], lines[2+2*i], req, resp)
		}
	}
	if want := fmt.Sprintf("%d messages, 0 retransmissions", 2*n); !strings.HasSuffix(lines[len(lines)-1], want) {
		t.Errorf("summary %q, want it to end %q", lines[len(lines)-1], want)
	}
	if err := pcap.Flush(); err != nil || pcap.Count() != 2*n {
		t.Fatalf("pcap: Flush() = %v, Count() = %d, want nil, %d", err, pcap.Count(), 2*n)
	}
	for i, payload := range pcapPayloads(t, capture.Bytes()) {
		want := "OPTIONS "
		if i%2 == 1 {
			want = "SIP/2.0 200 OK"
		}
		cseq := fmt.Sprintf("CSeq: %d OPTIONS", i/2+1)
		if !bytes.HasPrefix(payload, []byte(want)) || !bytes.Contains(payload, []byte(cseq)) {
			t.Errorf("pcap record %d, want %q with %q:\n%s", i, want, cseq, payload)
		}
	}
}

// In verbose mode a header line too long for 100 columns (an attended
// transfer's Refer-To) is broken between its parameters, continuation
// lines indented, nothing lost.
func TestLadderVerboseLongLine(t *testing.T) {
	var out bytes.Buffer
	l := newTestLadder(&out, false)
	l.Verbose = true
	referTo := "<sip:carol@127.0.0.1:5063?Replaces=6f1c2a9e0b7d4c52a0f33d2e1f4c5b6a%3Bto-tag%3D8a7b6c5d4e3f2a1b%3Bfrom-tag%3D1a2b3c4d5e6f7a8b>"
	refer := bytes.Replace(testRefer, []byte("<sip:carol@127.0.0.1:5063>"), []byte(referTo), 1)
	traceExchange(l, testAlice, testBob, refer)
	text := out.String()
	want := "    Refer-To: <sip:carol@127.0.0.1:5063?Replaces=6f1c2a9e0b7d4c52a0f33d2e1f4c5b6a\n" +
		"      %3Bto-tag%3D8a7b6c5d4e3f2a1b%3Bfrom-tag%3D1a2b3c4d5e6f7a8b>\n"
	if !strings.Contains(text, want) {
		t.Errorf("no %q in:\n%s", want, text)
	}
	checkLadderLines(t, text, text)
}

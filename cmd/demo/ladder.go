// The ladder diagram (Ladder): parties as columns, one arrow per SIP
// message, retransmissions dimmed, in text with optional colour. What an
// arrow says is in ladder_label.go, the SVG form in ladder_svg.go.

package main

import (
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transport"
)

// A Ladder draws a SIP ladder diagram as messages flow: one column per
// party, one arrow per message, labelled with what the message is and the
// header fields that matter to a call transfer. It implements
// transport.Tracer; attach one Ladder to the transport layer of every party,
// and it is safe for their concurrent calls.
//
// A message between two of our layers is traced twice, sent by one and
// received by the other, and drawn once, at the first of the two. Usually
// that is the send; but a socket's send is traced after the write returns,
// and by then the receiver may have answered (see transport.Tracer), so
// drawing at the first trace keeps every answer below its cause. A message
// from or to a peer that traces nothing is drawn at its one trace.
//
// A message sent again from the same party to the same peer is a
// retransmission (RFC 3261 §17.1.1.2, §17.2.1), drawn dim and counted.
type Ladder struct {
	// Verbose prints every message in full under its arrow. Set it before
	// the first message.
	Verbose bool
	// Now is the clock that times a section for Summary; nil means time.Now.
	// Set it before the first Section.
	Now func() time.Time

	mu      sync.Mutex
	w       io.Writer
	colour  bool
	parties []string               // the column names, left to right
	byAddr  map[netip.AddrPort]int // index into parties
	byIP    map[netip.Addr]int     // a party alone on its IP address; -1 if shared
	named   bool                   // the column names are printed for the current parties

	// The current section: what Summary reports.
	title           string
	start, end      time.Time // end: see Ended
	messages        int
	retransmissions int
	traces          map[messageKey]*traceCount

	recording bool      // see RecordSVG
	items     []svgItem // what was drawn, while recording

	copy []byte // the traced message, copied: Parse may rewrite line folds
	msg  sip.Message
	id   []byte // messageID of msg
	out  []byte // the lines of one call, written at once
}

// messageKey identifies a message and its copies (retransmissions) between
// two columns, whichever end traces it.
type messageKey struct {
	from, to int
	id       string // see messageID
}

// traceCount counts the traces of one messageKey.
type traceCount struct {
	sent, received, drawn int
}

// Layout. Three parties take 37 columns, which leaves 61 for labels in a
// 100-column terminal; longer labels wrap.
const (
	columnWidth   = 18 // from one lifeline to the next
	lineWidth     = 100
	minLabelWidth = 32
	verboseIndent = "    "
)

// ANSI SGR colours by message class.
const (
	ansiReset    = "\x1b[0m"
	ansiBold     = "\x1b[1m"
	ansiDim      = "\x1b[2m"
	ansiRed      = "\x1b[31m"
	ansiGreen    = "\x1b[32m"
	ansiYellow   = "\x1b[33m"
	ansiBlue     = "\x1b[34m"
	ansiMagenta  = "\x1b[35m"
	ansiCyan     = "\x1b[36m"
	colourNone   = ""
	colourInvite = ansiCyan    // INVITE, ACK, BYE, CANCEL: the call itself
	colourRefer  = ansiMagenta // REFER: the transfer request
	colourEvent  = ansiYellow  // SUBSCRIBE, NOTIFY: the transfer's progress
	colour1xx    = ansiBlue
	colour2xx    = ansiGreen
	colourError  = ansiRed // 3xx to 6xx, and what cannot be parsed
)

// NewLadder returns a Ladder that writes to w, in ANSI colours if colour is
// set (see colourWanted).
func NewLadder(w io.Writer, colour bool) *Ladder {
	return &Ladder{w: w, colour: colour, byAddr: map[netip.AddrPort]int{}, byIP: map[netip.Addr]int{}, traces: map[messageKey]*traceCount{}}
}

// colourWanted reports whether output to f should be in colour: f is a
// terminal (a character device; /dev/null is one too, harmlessly), NO_COLOR
// is unset or empty (https://no-color.org) and TERM is not "dumb".
func colourWanted(f *os.File) bool {
	if os.Getenv("NO_COLOR") != "" || os.Getenv("TERM") == "dumb" {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// AddParty gives the party name a column, or more addresses to its column
// if it has one. Messages sent from or to any of addrs are drawn on it; the
// protocol is ignored, as UDP and TCP usually share a port. A party that
// connects over TCP or TLS sends from an ephemeral port, which gets a column
// of its own unless added here.
func (l *Ladder) AddParty(name string, addrs ...transport.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	i := l.partyIndex(name)
	for _, a := range addrs {
		l.byAddr[addrKey(a)] = i
		ip := a.Addr().Unmap()
		if j, ok := l.byIP[ip]; ok && j != i {
			l.byIP[ip] = -1 // shared by several parties: no use
		} else {
			l.byIP[ip] = i
		}
	}
}

// Section starts a part of the run, such as "Blind transfer": it prints the
// title and the column names, and restarts the counts Summary reports. Call
// it between exchanges: a message traced on both sides of a Section is drawn
// on both.
func (l *Ladder) Section(title string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.title, l.start, l.end = title, l.now(), time.Time{}
	l.messages, l.retransmissions = 0, 0
	clear(l.traces)
	l.record(svgItem{kind: svgSection, text: title})

	l.out = append(l.out[:0], '\n')
	rule := "━━ " + title + " "
	rule += strings.Repeat("━", max(3, lineWidth-utf8.RuneCountInString(rule)))
	l.out = l.paint(l.out, ansiBold, rule)
	l.out = append(l.out, '\n')
	l.out = l.appendNames(l.out)
	l.flush()
}

// Ended marks the end of the section's story, before any cleanup whose
// messages are still drawn in it: Summary reports the time until then.
func (l *Ladder) Ended() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.end = l.now()
}

// Summary prints one line on the section: whether it succeeded (err is nil)
// or why not, how long it took, and how many messages were drawn in it,
// retransmissions included, and of those how many were retransmissions.
func (l *Ladder) Summary(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	end := l.end
	if end.IsZero() {
		end = l.now()
	}
	elapsed := end.Sub(l.start)
	if elapsed >= time.Millisecond {
		elapsed = elapsed.Round(time.Millisecond)
	} else {
		elapsed = elapsed.Round(time.Microsecond) // "0s" would look like nothing happened
	}
	title := l.title
	if title == "" {
		title = "Run"
	}
	counts := fmt.Sprintf("%s, %s", plural(l.messages, "message"), plural(l.retransmissions, "retransmission"))
	text, colour := fmt.Sprintf("✓ %s succeeded in %v:", title, elapsed), ansiGreen
	if err != nil {
		text, colour = fmt.Sprintf("✗ %s failed after %v: %v;", title, elapsed, err), ansiRed
	}
	l.record(svgItem{kind: svgSummary, text: text + " " + counts, failed: err != nil})
	l.out = l.out[:0]
	for _, line := range wrapWords(append(strings.Fields(text), counts), lineWidth) {
		l.out = l.paint(l.out, colour, line)
		l.out = append(l.out, '\n')
	}
	l.flush()
}

// Note prints text beside the lifelines, to tell what a party is doing
// between messages ("Alice presses Transfer").
func (l *Ladder) Note(text string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.out = l.out[:0]
	if !l.named {
		l.out = l.appendNames(l.out)
	}
	l.record(svgItem{kind: svgNote, text: text})
	l.out = append(l.out, l.lifelines()...)
	l.out = append(l.out, "  "...)
	l.out = l.paint(l.out, ansiBold, text)
	l.out = append(l.out, '\n')
	l.flush()
}

// TraceMessage draws t's message, unless it is the second trace of one
// already drawn; see Ladder.
func (l *Ladder) TraceMessage(t *transport.Trace) {
	l.mu.Lock()
	defer l.mu.Unlock()
	from, to := l.column(t.Local), l.column(t.Remote)
	if !t.Sent {
		from, to = to, from
	}
	l.copy = append(l.copy[:0], t.Msg...)
	parseErr := sip.Parse(&l.msg, l.copy)
	if parseErr == nil {
		l.id = messageID(l.id[:0], &l.msg)
	} else {
		l.id = append(l.id[:0], t.Msg...)
	}

	key := messageKey{from, to, string(l.id)}
	c := l.traces[key]
	if c == nil {
		c = &traceCount{}
		l.traces[key] = c
	}
	if t.Sent {
		c.sent++
		if c.sent <= c.received {
			return // drawn when it arrived
		}
	} else {
		c.received++
		if c.received <= c.sent {
			return // drawn when it left
		}
	}
	retransmission := c.drawn > 0
	c.drawn++
	if l.start.IsZero() {
		l.start = l.now() // no Section: Summary times the whole run
	}
	l.messages++
	if retransmission {
		l.retransmissions++
	}

	label, colour := describeForLadder(&l.msg, parseErr, len(t.Msg))
	if retransmission {
		// The same as drawn above: the first part says what it is.
		label = append(label[:1], "(retransmission)")
		colour = ansiDim
	}
	l.record(svgItem{kind: svgArrow, from: from, to: to, label: label, colour: colour, retransmission: retransmission})
	l.out = l.out[:0]
	if !l.named {
		l.out = l.appendNames(l.out)
	}
	l.out = l.appendArrow(l.out, from, to, label, colour)
	if l.Verbose {
		l.out = l.appendVerbose(l.out, t.Msg)
	}
	l.flush()
}

// messageID appends what identifies m whichever end traced it: its start
// line, the branch of its top Via, every header field but Via, and its body.
// Via is left out because the receiver of a request adds received and rport
// to the top one before tracing it (RFC 3581 §4); the branch stays, as it
// names the transaction (RFC 3261 §17.1.3).
func messageID(dst []byte, m *sip.Message) []byte {
	if m.IsRequest() {
		dst = append(dst, m.MethodName()...)
		if u := m.RequestURI(); u != nil {
			dst = append(append(dst, ' '), u.Raw...)
		}
	} else {
		dst = strconv.AppendInt(dst, int64(m.StatusCode()), 10)
		dst = append(append(dst, ' '), m.Reason()...)
	}
	if via, err := m.TopVia(); err == nil {
		dst = append(append(dst, "\nbranch="...), via.Branch...)
	}
	for _, f := range m.Fields() {
		if f.Name != sip.HeaderVia {
			dst = append(append(dst, '\n'), f.RawName...)
			dst = append(append(dst, ':'), f.Value...)
		}
	}
	return append(append(dst, "\n\n"...), m.Body()...)
}

// appendArrow appends the arrow from column from to column to, with its
// label to the right of the lifelines, wrapped onto indented lines.
func (l *Ladder) appendArrow(b []byte, from, to int, label []string, colour string) []byte {
	row := []rune(l.lifelines())
	lo, hi := min(from, to)*columnWidth+1, max(from, to)*columnWidth // between the lifelines
	switch {
	case from == to: // to itself, as a UA may
		if lo == len(row) {
			row = append(row, ' ')
		}
		row[lo], hi = '↺', lo+1
	case from < to:
		fillRunes(row[lo:hi], '─')
		row[hi-1] = '>'
	default:
		fillRunes(row[lo:hi], '─')
		row[lo] = '<'
	}
	b = append(b, string(row[:lo])...)
	b = l.paint(b, colour, string(row[lo:hi]))
	b = append(b, string(row[hi:])...)

	lines := wrapLabel(label, max(lineWidth-l.labelColumn(), minLabelWidth))
	for i, line := range lines {
		if i > 0 {
			b = append(b, l.lifelines()...)
			b = append(b, "  "...)
		}
		b = append(b, "  "...)
		b = l.paint(b, colour, line)
		b = append(b, '\n')
	}
	return b
}

// appendVerbose appends msg in full, indented, and an empty line.
func (l *Ladder) appendVerbose(b []byte, msg []byte) []byte {
	text := strings.TrimRight(strings.ReplaceAll(string(msg), "\r\n", "\n"), "\n")
	for _, line := range strings.Split(text, "\n") {
		// A line too long for the terminal is broken as labels are,
		// between parameters, its continuations indented two more
		// (the pcap has the bytes as sent).
		for i, part := range wrapLabel([]string{line}, lineWidth-len(verboseIndent)) {
			b = append(b, verboseIndent...)
			if i > 0 {
				b = append(b, "  "...)
			}
			b = l.paint(b, ansiDim, part)
			b = append(b, '\n')
		}
	}
	return append(b, '\n')
}

// column returns the column of the party at a, giving an unknown address a
// column of its own named after it.
func (l *Ladder) column(a transport.Addr) int {
	k := addrKey(a)
	if i, ok := l.byAddr[k]; ok {
		return i
	}
	// A connection's own end has an ephemeral port: a party alone on its
	// IP address owns every port of it.
	if i, ok := l.byIP[k.Addr()]; ok && i >= 0 {
		return i
	}
	i := l.partyIndex(k.String())
	l.byAddr[k] = i
	return i
}

// partyIndex returns the column of the party name, adding it if new.
func (l *Ladder) partyIndex(name string) int {
	for i, p := range l.parties {
		if p == name {
			return i
		}
	}
	l.parties = append(l.parties, name)
	l.named = false // print the names again before the next line
	return len(l.parties) - 1
}

// addrKey is a's IP address and port, IPv4-mapped IPv6 as IPv4.
func addrKey(a transport.Addr) netip.AddrPort {
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
}

// appendNames appends the names of the columns, each above its lifeline.
func (l *Ladder) appendNames(b []byte) []byte {
	var names strings.Builder
	for i, p := range l.parties {
		name := []rune(p)
		if len(name) > columnWidth-1 && i < len(l.parties)-1 {
			name = append(name[:columnWidth-2], '…')
		}
		names.WriteString(string(name))
		if i < len(l.parties)-1 {
			names.WriteString(strings.Repeat(" ", columnWidth-len(name)))
		}
	}
	l.named = true
	b = l.paint(b, ansiBold, names.String())
	return append(b, '\n')
}

// lifelines returns a row of the diagram with no message on it.
func (l *Ladder) lifelines() string {
	if len(l.parties) == 0 {
		return ""
	}
	return strings.Repeat("│"+strings.Repeat(" ", columnWidth-1), len(l.parties)-1) + "│"
}

// labelColumn is where labels start: after the last lifeline and two spaces.
func (l *Ladder) labelColumn() int {
	return max(len(l.parties)-1, 0)*columnWidth + 1 + 2
}

// paint appends s, in colour if the Ladder has colour on and colour is set.
func (l *Ladder) paint(b []byte, colour, s string) []byte {
	if !l.colour || colour == colourNone {
		return append(b, s...)
	}
	b = append(b, colour...)
	b = append(b, s...)
	return append(b, ansiReset...)
}

// flush writes the lines built in l.out. Errors writing the diagram are
// not the run's errors, so they are dropped.
func (l *Ladder) flush() {
	_, _ = l.w.Write(l.out)
}

func (l *Ladder) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

func fillRunes(r []rune, c rune) {
	for i := range r {
		r[i] = c
	}
}

// plural returns "1 message", "2 messages".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// What each arrow of the ladder says (describeForLadder) and how labels and
// intro lines wrap to fit 100 columns.

package main

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/sipfrag"
)

// describeForLadder returns the label of m's arrow, as parts that wrap as
// units, and the colour of its class; parseErr is how parsing m's size bytes
// failed, if it did.
func describeForLadder(m *sip.Message, parseErr error, size int) (label []string, colour string) {
	if parseErr != nil {
		return []string{fmt.Sprintf("unparsable, %d bytes: %v", size, parseErr)}, colourError
	}
	head := ""
	if m.IsRequest() {
		head = string(m.MethodName())
		switch m.Method() {
		case sip.MethodInvite, sip.MethodAck, sip.MethodBye, sip.MethodCancel:
			colour = colourInvite
		case sip.MethodRefer:
			colour = colourRefer
		case sip.MethodSubscribe, sip.MethodNotify:
			colour = colourEvent
		}
	} else {
		code := m.StatusCode()
		head = strings.TrimSpace(fmt.Sprintf("%d %s", code, m.Reason()))
		switch {
		case code < 200:
			colour = colour1xx
		case code < 300:
			colour = colour2xx
		default:
			colour = colourError
		}
	}
	if cseq, err := m.CSeq(); err == nil {
		head += fmt.Sprintf(" (CSeq %d %s)", cseq.Seq, cseq.MethodName)
	}
	label = append(label, head)

	// The header fields that tell the steps of a transfer apart.
	field := func(h sip.HeaderName) {
		if v := m.Get(h); v != nil {
			label = append(label, h.String()+": "+string(v))
		}
	}
	field(sip.HeaderReferTo)  // REFER: whom to call (RFC 3515 §2.1)
	field(sip.HeaderReplaces) // INVITE: the dialog it replaces (RFC 3891)
	field(sip.HeaderReferSub) // no implicit subscription (RFC 4488)
	field(sip.HeaderEvent)    // SUBSCRIBE, NOTIFY (RFC 6665)
	field(sip.HeaderSubscriptionState)
	if ct, err := m.ContentType(); err == nil {
		switch {
		case sipfrag.IsContentType(&ct):
			// The progress of the referred call (RFC 3515 §2.4.5).
			if code, reason, err := sipfrag.Status(m.Body()); err == nil {
				label = append(label, fmt.Sprintf("sipfrag: SIP/2.0 %d %s", code, reason))
			}
		case m.Method() == sip.MethodInvite && ct.Is("application", "sdp"):
			// A re-INVITE offering sendonly (or inactive) media puts the
			// call on hold (RFC 3264 §8.4).
			for _, dir := range []string{"a=sendonly", "a=inactive"} {
				if hasLine(m.Body(), dir) {
					label = append(label, "hold: "+dir)
				}
			}
		}
	}
	return label, colour
}

// hasLine reports whether body has a line that is exactly line.
func hasLine(body []byte, line string) bool {
	for len(body) > 0 {
		var l []byte
		l, body, _ = bytes.Cut(body, []byte("\n"))
		if string(bytes.TrimSuffix(l, []byte("\r"))) == line {
			return true
		}
	}
	return false
}

// wrapLabel joins parts with two spaces into lines of at most width runes,
// less two for the continuation lines, which are indented. A part goes
// whole onto the line it fits on; one longer than a line is broken only
// between the parameters of its value (before ';', '?', '&', ',' or their
// escapes %3B, %26), never inside a token; a single parameter longer than a
// line is abbreviated, with '…' for the mark. -v prints messages whole.
func wrapLabel(parts []string, width int) []string {
	var lines []string
	var line []rune
	limit := func() int {
		if len(lines) == 0 {
			return width
		}
		return width - 2
	}
	newLine := func() {
		lines = append(lines, string(line))
		line = nil
	}
	for _, p := range parts {
		r := []rune(p)
		sep := 0
		if len(line) > 0 {
			sep = 2
		}
		if len(line)+sep+len(r) > limit() && len(line) > 0 {
			if len(r) <= width-2 {
				newLine() // whole on a line of its own
				sep = 0
			}
		}
		for i, piece := range labelPieces(p) {
			pr := []rune(piece)
			if i == 0 && len(line) > 0 {
				pr = append([]rune("  "), pr...)
			}
			if len(line)+len(pr) > limit() && len(line) > 0 {
				newLine()
				pr = []rune(strings.TrimLeft(string(pr), " "))
			}
			if n := limit(); len(pr) > n {
				pr = append(pr[:n-1], '…')
			}
			line = append(line, pr...)
		}
	}
	return append(lines, string(line))
}

// labelPieces splits a label part before each parameter separator of its
// value, the places wrapLabel may break it: the pieces joined are p.
func labelPieces(p string) []string {
	var pieces []string
	start := 0
	for i := 1; i < len(p); i++ {
		switch {
		case strings.IndexByte(";?&,", p[i]) >= 0:
		case p[i] == '%' && i+2 < len(p) && (strings.EqualFold(p[i:i+3], "%3B") || p[i:i+3] == "%26"):
		default:
			continue
		}
		pieces = append(pieces, p[start:i])
		start = i
	}
	return append(pieces, p[start:])
}

// wrapWords joins words with spaces into lines of at most width runes; a
// word longer than that has a line of its own.
func wrapWords(words []string, width int) []string {
	var lines []string
	line := ""
	for _, w := range words {
		if line != "" && utf8.RuneCountInString(line)+1+utf8.RuneCountInString(w) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	return append(lines, line)
}

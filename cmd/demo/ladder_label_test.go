// Tests of how ladder labels and the intro lines wrap (ladder_label.go).

package main

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// A label too long for its line is broken between header fields, then
// between the parameters of a value (an attended transfer's Refer-To and
// Replaces), never inside a token; a parameter longer than a line is
// abbreviated with a visible mark.
func TestWrapLabel(t *testing.T) {
	referTo := "Refer-To: <sip:carol@127.0.0.1:54704?Replaces=2eef43bcec947adf5718ddfc5df0e5e5%3Bto-tag%3Dd1bff1ad28a4b6a2%3Bfrom-tag%3D5a5a5a5a5a5a5a5a>"
	parts := []string{"REFER (CSeq 20120 REFER)", referTo, "Event: refer;id=20120"}
	width := 61 // a 100-column terminal, three parties
	lines := wrapLabel(parts, width)
	want := []string{
		"REFER (CSeq 20120 REFER)",
		"Refer-To: <sip:carol@127.0.0.1:54704",
		"?Replaces=2eef43bcec947adf5718ddfc5df0e5e5",
		"%3Bto-tag%3Dd1bff1ad28a4b6a2%3Bfrom-tag%3D5a5a5a5a5a5a5a5a>",
		"Event: refer;id=20120",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	for i, l := range lines {
		if n, max := utf8.RuneCountInString(l), width-2*min(i, 1); n > max {
			t.Errorf("line %d: %d runes, more than %d", i+1, n, max)
		}
	}

	// A part that fits a line is never broken, only moved to the next.
	lines = wrapLabel([]string{strings.Repeat("x", 40), "Subscription-State: terminated;reason=noresource"}, width)
	if len(lines) != 2 || lines[1] != "Subscription-State: terminated;reason=noresource" {
		t.Errorf("got %q", lines)
	}

	// One token longer than a line: abbreviated, marked.
	long := "Call-ID: " + strings.Repeat("a", 80)
	lines = wrapLabel([]string{"BYE (CSeq 1 BYE)", long}, width)
	if len(lines) != 2 || lines[1] != long[:width-3]+"…" {
		t.Errorf("got %q", lines)
	}
}

// The intro and summary lines wrap at spaces.
func TestWrapWords(t *testing.T) {
	got := wrapWords([]string{"Over UDP:", "Alice sip:alice@127.0.0.1:5061,", "Bob sip:bob@127.0.0.1:5062,", "Carol sip:carol@127.0.0.1:5063"}, 60)
	want := []string{"Over UDP: Alice sip:alice@127.0.0.1:5061,", "Bob sip:bob@127.0.0.1:5062, Carol sip:carol@127.0.0.1:5063"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got %q, want %q", got, want)
	}
}

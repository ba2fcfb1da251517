// Tests that README.md says what the demo does: its flags, commands,
// ladder and fuzz-target counts.

package main

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"regexp"
	"strings"
	"testing"
)

// readme returns the repository's README.md.
func readme(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// paragraph returns the paragraph of text that starts with start.
func paragraph(t *testing.T, text, start string) string {
	t.Helper()
	i := strings.Index(text, start)
	if i < 0 {
		t.Fatalf("README has no paragraph starting %q", start)
	}
	p, _, _ := strings.Cut(text[i:], "\n\n")
	return p
}

// backtickFlags returns the flags the text names in backticks: `-v`,
// `-pcap FILE`, `-transport tcp|tls`.
func backtickFlags(text string) []string {
	var flags []string
	for _, m := range regexp.MustCompile("`(-[a-z0-9-]+)[ `]").FindAllStringSubmatch(text, -1) {
		flags = append(flags, m[1])
	}
	return flags
}

// usageFlags returns the flags a -h usage text lists.
func usageFlags(usage string) map[string]bool {
	flags := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^  (-[a-z0-9-]+)`).FindAllStringSubmatch(usage, -1) {
		flags[m[1]] = true
	}
	return flags
}

// The README names the demo's and demo ua's flags as they are: the demo's
// paragraph names every flag -h lists and no other, the ua's names only
// flags it has; and "demo help" is there, as it works (TestDemoHelp).
func TestReadmeFlags(t *testing.T) {
	text := readme(t)
	var demo, ua bytes.Buffer
	if _, err := parseDemoFlags([]string{"-h"}, &demo); !errors.Is(err, flag.ErrHelp) {
		t.Fatal(err)
	}
	if _, err := parseUAFlags([]string{"-h"}, &ua); !errors.Is(err, flag.ErrHelp) {
		t.Fatal(err)
	}

	p := paragraph(t, text, "`go run ./cmd/demo -h` (or `demo help`) lists the options")
	have, named := usageFlags(demo.String()), map[string]bool{}
	for _, f := range backtickFlags(p) {
		named[f] = true
		if !have[f] {
			t.Errorf("README names demo flag %s, which demo -h does not list", f)
		}
	}
	for f := range have {
		if !named[f] {
			t.Errorf("demo flag %s is missing from the README's list", f)
		}
	}

	p = paragraph(t, text, "`go run ./cmd/demo ua -h` runs one user agent")
	have = usageFlags(ua.String())
	for _, f := range backtickFlags(p) {
		if !have[f] {
			t.Errorf("README names ua flag %s, which demo ua -h does not list", f)
		}
	}
}

// Every "go run ./cmd/demo ..." command the README shows parses.
func TestReadmeCommands(t *testing.T) {
	cmds := regexp.MustCompile("go run ./cmd/demo((?: [^ `#\n]+)*)").FindAllStringSubmatch(readme(t), -1)
	if len(cmds) < 3 {
		t.Fatalf("only %d demo commands found", len(cmds))
	}
	for _, c := range cmds {
		args := strings.Fields(c[1])
		var out bytes.Buffer
		var err error
		switch {
		case len(args) > 0 && args[0] == "ua":
			_, err = parseUAFlags(args[1:], &out)
		case len(args) > 0 && args[0] == "events":
			_, err = parseEventsFlags(args[1:], &out)
		default:
			_, err = parseDemoFlags(helpAsFlag(args), &out)
		}
		if err != nil && !errors.Is(err, flag.ErrHelp) {
			t.Errorf("README command %q: %v", c[0], err)
		}
	}
}

// The README's ladder is the blind transfer as the demo draws it today:
// each of its lines, numbers (ports, CSeq) aside, is a line the demo
// prints, its messages are those of a run, and it says it is the first of
// two sections. Its address claims hold: 127.0.0.1 over UDP, 127.0.0.1,
// .2 and .3 over TCP and TLS.
func TestReadmeLadder(t *testing.T) {
	text := readme(t)
	start := strings.Index(text, "━━ Blind transfer")
	if start < 0 {
		t.Fatal("README shows no blind transfer ladder")
	}
	end := strings.Index(text[start:], "```")
	excerpt := text[start : start+end]
	if !strings.Contains(text[:start], "The first of its two sections") {
		t.Error("the README's ladder is not said to be an excerpt")
	}

	var out bytes.Buffer
	if err := runDemo(nil, &out); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	run := out.String()
	blind, _, _ := strings.Cut(run[strings.Index(run, "━━ Blind transfer"):], "\n\n")
	// Compared as the arrows and the label parts they carry, numbers
	// aside: how a label wraps depends on how many digits its numbers have.
	digits, duration := regexp.MustCompile(`[0-9]+`), regexp.MustCompile(`in [0-9.]+(µs|ms|s):`)
	items := func(ladder string) map[string]int {
		m := map[string]int{}
		ladder = digits.ReplaceAllString(duration.ReplaceAllString(ladder, "in 1s:"), "0")
		for _, line := range strings.Split(ladder, "\n") {
			r := []rune(line)
			if len(r) < 2*columnWidth+1 || !strings.HasPrefix(line, "│") {
				m[line]++ // rule, names, summary
				continue
			}
			arrow := string(r[:2*columnWidth+1])
			if !strings.ContainsAny(arrow, "<>") {
				arrow = ""
			}
			for i, part := range strings.Split(strings.TrimSpace(string(r[2*columnWidth+1:])), "  ") {
				if i > 0 {
					arrow = ""
				}
				m[arrow+"|"+strings.TrimSpace(part)]++
			}
		}
		return m
	}
	got, want := items(blind), items(strings.TrimRight(excerpt, "\n"))
	for it, n := range want {
		if got[it] != n {
			t.Errorf("README ladder has %d× %q, a run %d×", n, it, got[it])
		}
	}
	for it, n := range got {
		if want[it] == 0 {
			t.Errorf("a run draws %d× %q, the README does not", n, it)
		}
	}

	for _, c := range []struct{ proto, want string }{
		{"udp", `^Over UDP: Alice sip:alice@127\.0\.0\.1:\d+, Bob sip:bob@127\.0\.0\.1:\d+,\s+Carol sip:carol@127\.0\.0\.1:\d+\n`},
		{"tcp", `^Over TCP: Alice sip:alice@127\.0\.0\.1:\d+;transport=tcp, Bob sip:bob@127\.0\.0\.2:\d+;transport=tcp,\s+Carol sip:carol@127\.0\.0\.3:\d+;transport=tcp\n`},
	} {
		if c.proto == "udp" {
			if !regexp.MustCompile(c.want).MatchString(run) {
				t.Errorf("udp: intro %q", strings.SplitN(run, "\n\n", 2)[0])
			}
			continue
		}
		var out bytes.Buffer
		if err := runDemo([]string{"-transport", c.proto}, &out); err != nil {
			t.Fatalf("demo: %v\n%s", err, out.String())
		}
		if !regexp.MustCompile(c.want).MatchString(out.String()) {
			t.Errorf("%s: intro %q", c.proto, strings.SplitN(out.String(), "\n\n", 2)[0])
		}
	}
	if !strings.Contains(text, "127.0.0.1, 127.0.0.2 and\n127.0.0.3") {
		t.Error("README does not give the TCP and TLS addresses")
	}
}

// The fuzz counts the README gives are those .ci/run uses.
func TestReadmeFuzzCounts(t *testing.T) {
	run, err := os.ReadFile("../../.ci/run")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(strings.Fields(readme(t)), " ")
	for _, c := range []struct{ variable, readme string }{
		{"FUZZTIME", "runs every `Fuzz` target for %s inputs"},
		{"FUZZTIME_STATEFUL", "the four state-machine targets for %s"},
	} {
		m := regexp.MustCompile(`(?m)^` + c.variable + `=\$\{` + c.variable + `:-(\d+)x\}`).FindSubmatch(run)
		if m == nil {
			t.Fatalf(".ci/run sets no %s count", c.variable)
		}
		n := string(m[1])
		// 200000 is written 200,000.
		for i := len(n) - 3; i > 0; i -= 3 {
			n = n[:i] + "," + n[i:]
		}
		if want := strings.Replace(c.readme, "%s", n, 1); !strings.Contains(text, want) {
			t.Errorf("README lacks %q (.ci/run: %s)", want, m[0])
		}
	}
	if !regexp.MustCompile(`state_?ful_targets=" FuzzTransactions FuzzDialogs FuzzSubscriptions FuzzTransfers "`).Match(run) {
		t.Error(".ci/run's state-machine targets are not the four the README counts")
	}
}

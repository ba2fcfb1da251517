// Tests of the transfer demo (runDemo): both transfers over each transport,
// hold, flags, help and timeout, and the 100-column width of its output.

package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// The demo runs both transfers over each transport and says so; its pcap
// holds every message drawn.
func TestDemo(t *testing.T) {
	for _, proto := range []string{"udp", "tcp", "tls"} {
		t.Run(proto, func(t *testing.T) {
			var out bytes.Buffer
			pcap := filepath.Join(t.TempDir(), "demo.pcap")
			if err := runDemo([]string{"-transport", proto, "-pcap", pcap}, &out); err != nil {
				t.Fatalf("demo: %v\n%s", err, out.String())
			}
			text := out.String()
			for _, want := range []string{
				"✓ Blind transfer (RFC 5589 §6.1) succeeded",
				"✓ Attended transfer (RFC 5589 §7.3) succeeded",
				"Refer-To: <sip:carol@",
				"sipfrag: SIP/2.0 100 Trying",
				"sipfrag: SIP/2.0 200 OK",
				"terminated;reason=noresource",
				"hold: a=sendonly",
				"Replaces: ",
			} {
				if !strings.Contains(text, want) {
					t.Errorf("output lacks %q:\n%s", want, text)
				}
			}
			if strings.Contains(text, "\x1b[") {
				t.Error("colour written to a buffer")
			}
			checkWidth(t, text)
			// Every arrow's message is in the pcap: count them both.
			arrows := strings.Count(text, "──>") + strings.Count(text, "<──")
			if !strings.Contains(text, " messages written to ") {
				t.Fatalf("no pcap line:\n%s", text)
			}
			if b, err := os.ReadFile(pcap); err != nil || len(b) < 24 {
				t.Fatalf("pcap: %v, %d bytes", err, len(b))
			}
			if arrows < 40 {
				t.Errorf("only %d arrows drawn", arrows)
			}
			// When tshark is installed, it must decode every packet as SIP
			// with nothing malformed (CI installs it, .ci/interop/tshark.sh).
			if path, err := exec.LookPath("tshark"); err == nil {
				bad, err := exec.Command(path, "-n", "-r", pcap, "-Y", "!sip || _ws.malformed || _ws.expert.severity >= warning").Output()
				if err != nil {
					t.Fatalf("tshark: %v", err)
				}
				if len(bytes.TrimSpace(bad)) != 0 {
					t.Errorf("tshark objects to:\n%s", bad)
				}
			} else {
				t.Log("tshark not installed: pcap decoding not checked here")
			}
		})
	}
}

// The attended transfer's hold is a re-INVITE offering a=sendonly with the
// o= version one more than the call's first offer (RFC 3264 §8, §8.4),
// and Bob answers it a=recvonly, his own version incremented (§6.1).
func TestDemoHold(t *testing.T) {
	var out bytes.Buffer
	if err := runDemo([]string{"-v"}, &out); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	text := out.String()
	checkWidth(t, text) // -v included
	hold := regexp.MustCompile(`(?s)INVITE \(CSeq (\d+) INVITE\)  hold: a=sendonly\n.*?\n    (o=.*?)\n.*?\n    (a=\w+)\n\n.*?200 OK \(CSeq (\d+) INVITE\)\n.*?\n    (o=.*?)\n.*?\n    (a=\w+)\n\n`).FindStringSubmatch(text)
	if hold == nil {
		t.Fatalf("no hold re-INVITE and its 200 in:\n%s", text)
	}
	if hold[1] != hold[4] {
		t.Fatalf("the 200 after the hold is for CSeq %s, not %s", hold[4], hold[1])
	}
	if got := hold[2] + " " + hold[3] + " / " + hold[5] + " " + hold[6]; !regexp.MustCompile(`^o=- \d+ 2 IN IP4 \S+ a=sendonly / o=- \d+ 2 IN IP4 \S+ a=recvonly$`).MatchString(got) {
		t.Errorf("hold offer and answer: %s; want version 2 of each, a=sendonly answered a=recvonly", got)
	}
}

// Flags are checked before anything runs.
func TestDemoFlags(t *testing.T) {
	for _, args := range [][]string{{"-transport", "sctp"}, {"-loss", "1.5"}, {"-loss", "0.2", "-transport", "tcp"}, {"extra"}} {
		var out bytes.Buffer
		if err := runDemo(args, &out); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
}

// "demo help" prints what "demo -h" prints, to standard output, and is no
// error (exit status 0); so do "demo ua help" and "demo events help".
func TestDemoHelp(t *testing.T) {
	var h, help bytes.Buffer
	if err := runDemo(helpAsFlag([]string{"-h"}), &h); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
	if err := runDemo(helpAsFlag([]string{"help"}), &help); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("help: %v", err)
	}
	if h.String() != help.String() || !strings.Contains(help.String(), "demo help ") || !strings.Contains(help.String(), "-timeout") {
		t.Errorf("help:\n%s\n-h:\n%s", help.String(), h.String())
	}
	if got := helpAsFlag([]string{"help"}); len(got) != 1 || got[0] != "-h" {
		t.Errorf("subcommand help: %q", got)
	}
}

// A -timeout too short for anything fails both transfers with a message
// saying that the time ran out, not what the layer below said when it did
// ("INVITE cancelled" above a drawn 200 OK); the calls it interrupted are
// ended inside their section, and every line fits 100 columns.
func TestDemoTimeout(t *testing.T) {
	var out bytes.Buffer
	err := runDemo([]string{"-timeout", "1ns"}, &out)
	var te *timeoutError
	if !errors.As(err, &te) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v (%T), want a timeoutError wrapping the deadline\n%s", err, err, out.String())
	}
	text := out.String()
	for _, want := range []string{
		"✗ Blind transfer (RFC 5589 §6.1) failed after",
		": -timeout 1ns reached during Alice's call to",
		"✗ Attended transfer (RFC 5589 §7.3) failed after",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	for _, bad := range []string{"cancelled", "context deadline exceeded"} {
		if strings.Contains(text, bad) || strings.Contains(err.Error(), bad) {
			t.Errorf("%q printed:\n%s\n%v", bad, text, err)
		}
	}
	if strings.Count(err.Error(), "\n") != 1 || !strings.HasPrefix(err.Error(), "blind transfer (RFC 5589 §6.1) failed: -timeout 1ns reached during ") {
		t.Errorf("error: %q", err)
	}
	// The time reported is the story's, not that of the cleanup after it
	// (settle: up to settleGrace for a callee's BYE).
	for _, m := range regexp.MustCompile(`failed after (\S+):`).FindAllStringSubmatch(text, -1) {
		if d, err := time.ParseDuration(m[1]); err != nil || d >= settleGrace {
			t.Errorf("failed after %s: want less than %v", m[1], settleGrace)
		}
	}
	checkWidth(t, text)
}

// checkWidth fails for a line of text wider than a 100-column terminal.
func checkWidth(t *testing.T, text string) {
	t.Helper()
	for i, line := range strings.Split(text, "\n") {
		if n := utf8.RuneCountInString(line); n > lineWidth {
			t.Errorf("line %d is %d columns wide: %q", i+1, n, line)
		}
	}
}

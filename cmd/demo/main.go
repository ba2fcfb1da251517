// Command demo runs two call transfers among three user agents in one
// process, Alice, Bob and Carol, on 127.0.0.1 (on 127.0.0.1, .2 and .3 over
// TCP and TLS), and draws every SIP message as a ladder diagram while it
// happens:
//
//  1. a blind transfer (RFC 5589 §6.1): Alice calls Bob and REFERs him to
//     Carol; Bob calls Carol and reports 100 Trying … 200 OK in NOTIFYs;
//     Alice hangs up;
//  2. an attended transfer (RFC 5589 §7.3): Alice calls Bob, holds him,
//     consults Carol, then REFERs Bob to Carol with Replaces; Bob's INVITE
//     replaces Alice's call with Carol, and Alice's calls end.
//
// It exits with status 0 only if both transfers succeed; -svg FILE also
// draws the ladder as an SVG image (docs/transfer.svg is one). "demo ua"
// runs a standalone user agent for interop tests ("demo ua -h"), "demo
// events" an event notifier or subscriber ("demo events -h"); "demo help"
// is "demo -h".
//
// Where things are (each file starts with a comment saying what it holds):
//   - main.go: the commands and the demo's flags;
//   - transfers.go: the three user agents and the two transfer stories;
//   - ladder.go, ladder_label.go, ladder_svg.go: the ladder diagram, what
//     each arrow says and how labels wrap in 100 columns, and its SVG form;
//   - pcap.go: the -pcap writer; sdp.go: the session descriptions (RFC 3264);
//   - ua.go: "demo ua", its run and its application (uaApp), with
//     ua_flags.go (flags, usage), ua_callee.go, ua_transferee.go,
//     ua_caller.go, ua_transferor.go (one file per role), ua_register.go
//     (-register and digest) and ua_output.go (its JSON events);
//   - events.go, events_agent.go, events_trace.go: "demo events", its
//     flags, its notifier and subscriber, and the JSON events it writes;
//   - jsonlines.go: the JSON line writer both subcommands use;
//   - tests sit beside what they test, with testutil_test.go (a subcommand
//     run in process), ua_harness_test.go and ladder_fixtures_test.go.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/sipxfer/sipxfer/transport"
)

func main() {
	if len(os.Args) > 1 && (os.Args[1] == "ua" || os.Args[1] == "events") {
		sub := runUA
		if os.Args[1] == "events" {
			sub = runEvents
		}
		err := sub(helpAsFlag(os.Args[2:]))
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		if err != nil {
			fail(err)
		}
		return
	}
	err := runDemo(helpAsFlag(os.Args[1:]), os.Stdout)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fail(err)
	}
}

// fail prints err, each of its lines prefixed, and exits with status 1.
func fail(err error) {
	for _, line := range strings.Split(err.Error(), "\n") {
		fmt.Fprintln(os.Stderr, "demo:", line)
	}
	os.Exit(1)
}

// helpAsFlag makes "demo help" (and "demo ua help") what "-h" is: the
// usage on standard output, exit status 0.
func helpAsFlag(args []string) []string {
	if len(args) > 0 && (args[0] == "help" || args[0] == "--help") {
		return append([]string{"-h"}, args[1:]...)
	}
	return args
}

const demoUsage = `usage: demo [flags]
       demo ua [flags]      a standalone user agent (demo ua -h)
       demo events [flags]  an event notifier or subscriber (demo events -h)
       demo help            this text

Runs a blind and then an attended call transfer among Alice, Bob and Carol,
three user agents in this process on 127.0.0.1 (127.0.0.1, .2 and .3 over
TCP and TLS), and draws each SIP message as it is sent; -svg draws the
same ladder as an image. Colour when standard output is a terminal and NO_COLOR is
unset. Exit status 0 only if both transfers succeed.

Flags:
`

// demoFlags are the settings of the transfer demo.
type demoFlags struct {
	verbose bool
	pcap    string
	svg     string
	proto   transport.Protocol
	loss    float64
	timeout time.Duration
}

func parseDemoFlags(args []string, out io.Writer) (*demoFlags, error) {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), demoUsage)
		fs.PrintDefaults()
	}
	f := &demoFlags{}
	fs.BoolVar(&f.verbose, "v", false, "print every message in full under its arrow")
	fs.StringVar(&f.pcap, "pcap", "", "write every message to `file` in libpcap format (Wireshark, tshark)")
	fs.StringVar(&f.svg, "svg", "", "write the ladder of both transfers to `file` as an SVG image")
	proto := fs.String("transport", "udp", "`protocol`: udp, tcp or tls (a self-signed certificate shared by the three)")
	fs.Float64Var(&f.loss, "loss", 0, "run over an in-memory network losing this `fraction` of datagrams (0.2: 20 %), to watch retransmissions recover")
	fs.DurationVar(&f.timeout, "timeout", 2*time.Minute, "give up on a transfer after this long")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	p, ok := transport.ParseProtocol([]byte(*proto))
	if !ok {
		return nil, fmt.Errorf("-transport: %q is not udp, tcp or tls", *proto)
	}
	f.proto = p
	if f.loss < 0 || f.loss >= 1 {
		return nil, fmt.Errorf("-loss: %v is not a fraction in [0, 1)", f.loss)
	}
	if f.loss > 0 && p != transport.UDP {
		return nil, errors.New("-loss: only datagrams are lost; use it with -transport udp")
	}
	return f, nil
}

// writeFile creates name and has write fill it.
func writeFile(name string, write func(io.Writer) error) error {
	file, err := os.Create(name)
	if err != nil {
		return err
	}
	if err := write(file); err != nil {
		file.Close()
		return err
	}
	return file.Close()
}

func runDemo(args []string, out io.Writer) error {
	f, err := parseDemoFlags(args, out)
	if err != nil {
		return err
	}
	colour := false
	if file, ok := out.(*os.File); ok {
		colour = colourWanted(file)
	}
	s := &stage{f: f, ladder: NewLadder(out, colour)}
	s.ladder.Verbose = f.verbose
	if f.svg != "" {
		s.ladder.RecordSVG()
	}
	var tracer transport.Tracer = s.ladder
	if f.pcap != "" {
		file, err := os.Create(f.pcap)
		if err != nil {
			return err
		}
		defer file.Close()
		if s.pcap, err = NewPcapWriter(file, time.Now); err != nil {
			return err
		}
		tracer = tracers{s.ladder, s.pcap}
	}
	if err := s.start(tracer); err != nil {
		return err
	}
	defer s.stop()

	over := "over " + f.proto.String()
	if f.loss > 0 {
		over += fmt.Sprintf(" (in memory, %.0f %% datagram loss)", f.loss*100)
	}
	intro := []string{strings.ToUpper(over[:1]) + over[1:] + ":"}
	for i, p := range s.people {
		sep := ","
		if i == len(s.people)-1 {
			sep = ""
		}
		intro = append(intro, p.name+" "+p.uri+sep)
	}
	for _, line := range wrapWords(intro, lineWidth) {
		fmt.Fprintln(out, line)
	}
	blindErr := s.blind()
	attendedErr := s.attended()
	if s.pcap != nil {
		if err := s.pcap.Flush(); err != nil {
			return err
		}
		fmt.Fprintf(out, "\n%d messages written to %s\n", s.pcap.Count(), f.pcap)
	}
	if f.svg != "" {
		if err := writeFile(f.svg, s.ladder.WriteSVG); err != nil {
			return err
		}
		fmt.Fprintf(out, "\nladder drawn in %s\n", f.svg)
	}
	return errors.Join(blindErr, attendedErr)
}

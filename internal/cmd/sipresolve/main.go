// Command sipresolve prints where RFC 3263 sends a request for each SIP or
// SIPS URI given, one target a line in the order to try them:
//
//	udp 127.0.0.1:5070 pbx.example.test
//
// (transport, address, and the host name the address came from, "-" for
// an IP address in the URI). It exists for the interop script
// .ci/interop/dnsmasq.sh, which checks package locate against a real DNS
// server. Usage:
//
//	sipresolve [-server 127.0.0.1:5353] [-timeout 2s] [-transports udp,tcp,tls] URI...
//
// It exits 1 if a URI has no targets, 2 on bad usage.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"

	"github.com/sipxfer/sipxfer/locate"
	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transport"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sipresolve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	server := fs.String("server", "", "DNS server address:port (default: first nameserver of /etc/resolv.conf)")
	timeout := fs.Duration("timeout", locate.DefaultQueryTimeout, "time for each DNS query")
	transports := fs.String("transports", "udp,tcp,tls", "transports the caller supports")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "sipresolve: no URI given")
		return 2
	}
	client := &locate.Client{Timeout: *timeout}
	if *server != "" {
		ap, err := netip.ParseAddrPort(*server)
		if err != nil {
			fmt.Fprintf(stderr, "sipresolve: -server: %v\n", err)
			return 2
		}
		client.Server = ap
	}
	var have [4]bool
	for _, name := range strings.Split(*transports, ",") {
		p, ok := transport.ParseProtocol([]byte(strings.TrimSpace(name)))
		if !ok {
			fmt.Fprintf(stderr, "sipresolve: -transports: unknown %q\n", name)
			return 2
		}
		have[p] = true
	}
	l := &locate.Locator{
		Resolver:  locate.NewCache(client, transport.SystemClock(), locate.CacheConfig{}),
		Supported: func(p transport.Protocol) bool { return have[p] },
	}
	status := 0
	for _, arg := range fs.Args() {
		var u sip.URI
		if err := u.Parse([]byte(arg)); err != nil {
			fmt.Fprintf(stderr, "sipresolve: %s: %v\n", arg, err)
			status = 1
			continue
		}
		targets, err := l.Targets(context.Background(), &u)
		if err != nil {
			fmt.Fprintf(stderr, "sipresolve: %s: %v\n", arg, err)
			status = 1
			continue
		}
		for _, t := range targets {
			host := t.Host
			if host == "" {
				host = "-"
			}
			fmt.Fprintf(stdout, "%s %s %s\n", strings.ToLower(t.Proto.String()), t.AddrPort, host)
		}
	}
	return status
}

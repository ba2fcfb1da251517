package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sipxfer/sipxfer/dialog"
	"github.com/sipxfer/sipxfer/event"
	"github.com/sipxfer/sipxfer/locate"
	"github.com/sipxfer/sipxfer/refer"
	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transport"
)

const uaUsage = `usage: demo ua [flags]

Runs a standalone SIP user agent (packages dialog, event and refer) on one
transport address until SIGINT or SIGTERM, -duration, or, with -call, the
end of its last call.

As a callee it answers OPTIONS (200 with Allow and Accept) and MESSAGE
(200); it answers every INVITE outside a dialog with -answer-code (200 with
an SDP answer, or a rejection), after a 180 Ringing with -ring, and
answers BYE with 200. Its SDP describes one PCMU audio stream on an even
port of its address, though no RTP is sent or read; an answer mirrors the
offer's direction (a=sendonly, a hold, gets a=recvonly), and a re-INVITE's
answer increments the o= version when it changes (RFC 3264 §6.1, §8). An INVITE with Replaces
(RFC 3891) naming a call of this UA is answered 200 at once, whatever
-answer-code says, and the replaced call is ended with BYE; one naming no
call gets 481 (or what RFC 3891 §3 prescribes). A SUBSCRIBE for the refer
event that names no subscription of a REFER gets 403 (RFC 3515 §2.4.4:
only a REFER creates them), one for another package 489. Other methods
of RFC 3261 and its extensions get 405, unknown methods 501, both with
Allow.

As a transferee it takes REFERs (RFC 3515) inside a call's dialog or
outside any (RFC 7647, with Target-Dialog, RFC 4538). A REFER without
exactly one SIP Refer-To gets 400 (403 for other schemes); the others are
accepted with 200 (RFC 7647 §5; 202 with -rfc3515) unless -accept-refer=false
declines them with 603. A REFER outside any dialog whose Target-Dialog names
no call of this UA gets 403 unless -accept-outside lets it through: a
stranger cannot make the UA place calls by default. An accepted REFER creates the implicit subscription (not
with Refer-Sub: false, RFC 4488, unless -refer-sub=ignore): a NOTIFY
"100 Trying", then one per provisional response and the final one,
terminated. The UA calls the Refer-To target with its SDP offer,
Referred-By and the embedded Replaces if any, and keeps that call until
the target hangs up or the UA exits.

As a caller (-call URI) it places -max-calls calls, at most -call-rate a
second, each with the same SDP offer; it keeps each call -hold
long once established, then sends BYE. It exits when every call has ended,
with status 1 if one of them failed: not established, or its BYE not
answered 2xx. At exit (any exit) it cancels calls still being set up and
hangs up those still up, waiting at most 2 s for the answers to its BYEs.

As a transferor (-call URI -transfer-to URI) it transfers each call once
established (and held -hold): it REFERs the callee to the -transfer-to URI
in the call's dialog (or outside it with -out-of-dialog), follows the
NOTIFYs, and hangs up once the transfer is over (RFC 5589 §6.1: after the
final NOTIFY), whether it worked or not. With -attended it first calls
the -transfer-to URI (the consultation) and REFERs with Refer-To naming
that call's Contact and a Replaces of it (RFC 5589 §7.3), or naming the
-refer-to-uri URI instead (a service address in front of several
instances, as many phones do; docs/SCALING.md); the target then
ends the consultation, or the UA does 2 s after the transfer. It exits
with status 1 if a transfer failed: the REFER refused, the consultation
not established, or a final status of 300 or more (or none).

With -register URI it registers its Contact at that registrar (RFC 3261
§10) as sip:<-user>@<registrar host>, for -register-expires, refreshes the
binding before it expires, retries failures with the back-off of RFC 5626
§4.5, and removes the binding at exit (waiting at most 2 s). With
-auth-user (and -auth-password, or the environment variable
SIPXFER_PASSWORD) it answers digest challenges (401/407, RFC 3261 §22) to
any request it sends, for every realm, once per challenge: credentials
refused (a second challenge) end the registration, or the call or
transfer, and the UA exits with status 1 and an error naming the realm.

Standard output carries one JSON object per line:
  {"event":"listening","transport":"udp","addr":"127.0.0.1:5070"}  once listening
  {"event":"call_incoming","call_id":...,"direction":"in","from":...,"replaces":...}
        replaces is the Call-ID an INVITE with Replaces names
  {"event":"call_established","call_id":...,"direction":"in"|"out","purpose":...}
        purpose is "consult" for the consultation of -attended,
        "referred" for a call to a Refer-To target, absent otherwise
  {"event":"call_ended","call_id":...,"direction":...,"reason":...}
        an established call ended; reason is the call's error ("dialog:
        local hang-up", "dialog: remote hung up", ...); "bye_error" says
        why a BYE this side sent failed
  {"event":"call_failed","call_id":...,"direction":...,"status":486,"reason":...}
        a call ended without being established; status is the final
        response code when there was one, and "cancelled" is true for a
        call cut short by the exit
  {"event":"refer_received","call_id":...,"refer_to":...,"id":"2","in_dialog":true,
   "about":...,"norefersub":false,"no_subscription":false,"attended":false,
   "referred_by":...,"code":202}
        a REFER that passed the checks: id is the Event id of its
        subscription, about the Call-ID of the call it is about (its
        dialog's, or the one Target-Dialog names), norefersub that it
        asked Refer-Sub: false, no_subscription that this UA honoured it,
        attended that the Refer-To embeds a Replaces; code is the answer
  {"event":"refer_refused","call_id":...,"code":400,"reason":...}
        per non-2xx final response sent to a REFER, retransmissions
        included (400 for no or several Refer-To, 603 with
        -accept-refer=false, ...)
  {"event":"refer_sent","call_id":...,"refer_to":...,"out_of_dialog":false,
   "norefersub":false,"attended":false}
        call_id is the call being transferred, here and below
  {"event":"refer_response","call_id":...,"code":202,"reason":...}
  {"event":"notify","call_id":...,"code":180,"reason":...,"state":"active"}
        a NOTIFY of the transfer: its sipfrag status and Subscription-State;
        "error" says why a body could not be read
  {"event":"transfer_result","call_id":...,"ok":true,"refer_code":202,"code":200,
   "reason":...,"no_subscription":false,"error":...}
        how a transfer ended; "cancelled" is true for one cut short by
        the exit (not counted as failed)
  {"event":"registered","aor":...,"expires":60}
        the registrar granted (or refreshed) the binding for expires seconds
  {"event":"registration_failed","aor":...,"status":401,"error":...,"retry_in":30}
        an attempt failed (status 0: no response); retry_in is the
        back-off in seconds, absent when the registration gave up
  {"event":"error","call_id":...,"error":...}  something this UA could not do
  {"event":"request","method":...,"call_id":...,"status":...}
        per final response sent, retransmissions included, with -v
  {"event":"stats",...}  at exit: transport counters, final responses sent
        ("answered", retransmissions included), dialogs and transactions
        left, requests refused for a limit ("overloaded": MaxUnanswered;
        "dialogs_refused", "subscriptions_refused"), the calls placed,
        established, failed and received, the transfers started, ok,
        failed and cancelled, and the REFERs received, accepted, declined
        and refused, and calls they placed
Logs go to standard error.

With -transport tls the UA makes a self-signed ECDSA P-256 certificate in
memory at start-up (transport.SelfSignedTLS), valid for 24 hours for
127.0.0.1, ::1 and localhost; peers must be told not to verify it (or to
trust it). Two demo processes hold different certificates, so one cannot
call the other over TLS, unless each is given a certificate with -tls-cert
and -tls-key and the CA that signed them with -tls-ca: then a server's
certificate is checked against the SIP domain of the URI called (RFC 5922
§7; sips:bob@example.com needs a certificate for example.com), and
clients' certificates, when they send one, must chain to that CA.

Host names in -call, -transfer-to, -proxy, Refer-To targets and the
Contact and Record-Route of peers are located by RFC 3263 (NAPTR, SRV,
A/AAAA; DNS server -resolver, else /etc/resolv.conf); a request that a
target does not take (no listener, no answer, 503) goes to the next.

Flags:
`

// uaFlags are the settings of "demo ua".
type uaFlags struct {
	cpuProfile string
	memProfile string
	proxy      string
	listen     netip.AddrPort
	proto      transport.Protocol
	user       string
	duration   time.Duration
	verbose    bool
	logDebug   bool

	answerCode int
	ring       bool

	call     string // target of outgoing calls; empty places none
	maxCalls int    // 0: no limit
	callRate float64
	hold     time.Duration

	// Transferee.
	acceptRefer bool
	referSubIgn bool // -refer-sub=ignore
	rfc3515     bool // accept REFERs with 202
	acceptOut   bool // accept REFERs outside a dialog naming none of ours
	transferTo  string
	attended    bool
	referToURI  string // -refer-to-uri: the attended Refer-To's URI
	noReferSub  bool
	outOfDialog bool

	// Server location, NAT and TLS (RFC 3263, RFC 5922).
	resolver  netip.AddrPort // DNS server; zero: the system's
	advertise string         // HOST[:PORT] for Via, Contact and From
	tlsCert   string
	tlsKey    string
	tlsCA     string

	// Registration and digest authentication (RFC 3261 §10, §22).
	register        string // registrar URI; empty registers nowhere
	registerExpires time.Duration
	sessionExpires  time.Duration // RFC 4028; 0: no session timers
	authUser        string
	authPassword    string
}

// maxCallRate bounds -call-rate: the demo is a test tool, not a flood.
const maxCallRate = 10_000

// parseUAFlags reads the arguments after "ua"; usage and errors go to out.
func parseUAFlags(args []string, out io.Writer) (*uaFlags, error) {
	fs := flag.NewFlagSet("demo ua", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), uaUsage)
		fs.PrintDefaults()
	}
	listen := fs.String("listen", "127.0.0.1:5070", "`address` to listen on, IP:port or [IPv6]:port; port 0 picks a free one")
	proto := fs.String("transport", "udp", "`protocol`: udp, tcp or tls (self-signed certificate, see above)")
	f := &uaFlags{}
	fs.StringVar(&f.user, "user", "bob", "`user` part of the Contact URI and of the From of calls placed")
	fs.DurationVar(&f.duration, "duration", 0, "exit after this long; 0 runs until SIGINT or SIGTERM (or the last call placed with -call)")
	fs.BoolVar(&f.verbose, "v", false, "write a request event for every final response sent (slows a load test)")
	fs.BoolVar(&f.logDebug, "debug", false, "log at debug level: messages dropped or absorbed by the stack")
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of the run to `file` (go tool pprof), for load tests")
	fs.StringVar(&f.memProfile, "memprofile", "", "write a heap profile to `file` when the run ends, before the UA closes: what it holds then (go tool pprof), for load tests")
	fs.IntVar(&f.answerCode, "answer-code", 200, "final response to incoming INVITEs: 200 answers with SDP, 300-699 rejects")
	fs.BoolVar(&f.ring, "ring", false, "send 180 Ringing before the final response to an INVITE")
	fs.StringVar(&f.call, "call", "", "place calls to this `URI`, e.g. sip:alice@127.0.0.1:5060 (add ;transport=tcp for TCP) or sip:alice@example.com (located by DNS, RFC 3263)")
	fs.IntVar(&f.maxCalls, "max-calls", 1, "with -call: calls to place in all; 0 places calls until the UA is told to exit")
	fs.Float64Var(&f.callRate, "call-rate", 10, "with -call: at most this many `calls` started per second (up to 10000)")
	fs.DurationVar(&f.hold, "hold", 0, "with -call: how long to keep each call once established before BYE (or before the REFER, with -transfer-to); 0 hangs up at once")
	fs.BoolVar(&f.acceptRefer, "accept-refer", true, "as transferee: accept REFERs (200) and call their target; false declines them with 603")
	referSub := fs.String("refer-sub", "honour", "as transferee, for a REFER with Refer-Sub: false (RFC 4488): `honour` (no subscription, no NOTIFY) or ignore (notify anyway)")
	fs.BoolVar(&f.rfc3515, "rfc3515", false, "as transferee: accept REFERs with 202 (RFC 3515 §2.4.2) instead of 200 (RFC 7647 §5)")
	fs.BoolVar(&f.acceptOut, "accept-outside", false, "as transferee: accept REFERs outside a dialog that name none of this UA's calls (by default 403: anyone could make the UA place calls)")
	fs.StringVar(&f.transferTo, "transfer-to", "", "with -call: transfer each call to this `URI` (REFER, RFC 3515), e.g. sip:carol@127.0.0.1:5063, then hang up")
	fs.BoolVar(&f.attended, "attended", false, "with -transfer-to: call the target first and REFER with a Replaces of that call (attended transfer, RFC 5589 §7)")
	fs.StringVar(&f.referToURI, "refer-to-uri", "", "with -attended: the Refer-To names this `URI` (e.g. the service address of a balancer) with the Replaces, instead of the consulted call's Contact")
	fs.BoolVar(&f.noReferSub, "norefersub", false, "with -transfer-to: send Refer-Sub: false, asking for no NOTIFYs (RFC 4488)")
	fs.StringVar(&f.proxy, "proxy", "", "send every request outside a dialog through this loose-routing proxy `URI`, e.g. sip:127.0.0.1:5060;lr (a preloaded Route, RFC 3261 §8.1.2)")
	fs.BoolVar(&f.outOfDialog, "out-of-dialog", false, "with -transfer-to: send the REFER outside the call's dialog, naming it with Target-Dialog (RFC 4538)")
	// Server location (RFC 3263), NAT and TLS by domain (RFC 5922).
	resolver := fs.String("resolver", "", "DNS server `IP:port` for RFC 3263 server location (NAPTR, SRV, A/AAAA) of host names; default the first nameserver of /etc/resolv.conf")
	fs.StringVar(&f.advertise, "advertise", "", "`host[:port]` to name this UA by in Via, Contact and From (the address a NAT forwards to it); default the address used towards each peer")
	fs.StringVar(&f.tlsCert, "tls-cert", "", "PEM certificate (chain) `file` for TLS, as server and as client (mutual TLS); with -tls-key, in place of the self-signed one")
	fs.StringVar(&f.tlsKey, "tls-key", "", "PEM private key `file` of -tls-cert")
	fs.StringVar(&f.tlsCA, "tls-ca", "", "PEM CA certificates `file` that TLS servers' certificates (checked against the SIP domain called, RFC 5922) and clients' certificates must chain to; default the system's roots")
	// Registration and digest authentication.
	fs.StringVar(&f.register, "register", "", "register the Contact at this registrar `URI` (e.g. sip:127.0.0.1:5060), as sip:<user>@<registrar host>; re-registers until exit, unregisters at exit")
	fs.DurationVar(&f.registerExpires, "register-expires", 3600*time.Second, "with -register: the binding lifetime asked for")
	fs.DurationVar(&f.sessionExpires, "session-expires", 0, "use session timers (RFC 4028) with this interval (at least 90s): calls nobody refreshes end with BYE; 0 turns them off")
	fs.StringVar(&f.authUser, "auth-user", "", "answer 401/407 challenges (digest, RFC 3261 §22) as this `user`, for every realm")
	fs.StringVar(&f.authPassword, "auth-password", "", "with -auth-user: the `password` (default: the environment variable SIPXFER_PASSWORD)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if *resolver != "" {
		ap, err := netip.ParseAddrPort(*resolver)
		if err != nil {
			ip, err2 := netip.ParseAddr(*resolver)
			if err2 != nil {
				return nil, fmt.Errorf("ua: -resolver %q: want IP:port", *resolver)
			}
			ap = netip.AddrPortFrom(ip, 53)
		}
		f.resolver = ap
	}
	if f.advertise != "" {
		if _, _, err := splitAdvertise(f.advertise); err != nil {
			return nil, err
		}
	}
	if (f.tlsCert == "") != (f.tlsKey == "") {
		return nil, errors.New("ua: -tls-cert and -tls-key go together")
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("ua: unexpected argument %q", fs.Arg(0))
	}
	ap, err := netip.ParseAddrPort(*listen)
	if err != nil {
		return nil, fmt.Errorf("ua: -listen: %w", err)
	}
	f.listen = ap
	p, ok := transport.ParseProtocol([]byte(*proto))
	if !ok {
		return nil, fmt.Errorf("ua: -transport %q: want udp, tcp or tls", *proto)
	}
	f.proto = p
	if f.answerCode != 200 && (f.answerCode < 300 || f.answerCode > 699) {
		return nil, fmt.Errorf("ua: -answer-code %d: want 200 or 300-699", f.answerCode)
	}
	if f.call != "" {
		if err := checkTarget("-call", f.call); err != nil {
			return nil, err
		}
	}
	if f.proxy != "" {
		if err := checkTarget("-proxy", f.proxy); err != nil {
			return nil, err
		}
		var u sip.URI
		if u.Parse([]byte(f.proxy)); !u.HasParam("lr") {
			return nil, fmt.Errorf("ua: -proxy %q: want a loose router, with the lr parameter", f.proxy)
		}
	}
	switch *referSub {
	case "honour", "honor":
	case "ignore":
		f.referSubIgn = true
	default:
		return nil, fmt.Errorf("ua: -refer-sub %q: want honour or ignore", *referSub)
	}
	if f.transferTo != "" {
		if f.call == "" {
			return nil, errors.New("ua: -transfer-to needs -call")
		}
		if err := checkTarget("-transfer-to", f.transferTo); err != nil {
			return nil, err
		}
	} else if f.attended || f.noReferSub || f.outOfDialog {
		return nil, errors.New("ua: -attended, -norefersub and -out-of-dialog need -transfer-to")
	}
	if f.referToURI != "" {
		if !f.attended {
			return nil, errors.New("ua: -refer-to-uri needs -attended")
		}
		if err := checkTarget("-refer-to-uri", f.referToURI); err != nil {
			return nil, err
		}
	}
	if err := f.checkAuthFlags(); err != nil {
		return nil, err
	}
	if f.maxCalls < 0 {
		return nil, fmt.Errorf("ua: -max-calls %d: want 0 or more", f.maxCalls)
	}
	if !(f.callRate > 0 && f.callRate <= maxCallRate) {
		return nil, fmt.Errorf("ua: -call-rate %v: want more than 0, at most %d", f.callRate, maxCallRate)
	}
	if f.hold < 0 {
		return nil, fmt.Errorf("ua: -hold %v: want 0 or more", f.hold)
	}
	return f, nil
}

// runUA is "demo ua": it runs until SIGINT or SIGTERM, -duration or the
// end of its calls.
func runUA(args []string) error {
	// Catch the signals first, so that one sent during start-up ends the
	// run instead of being lost (or killing the process before its stats).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if prof := cpuProfileFlag(args); prof != "" {
		f, err := os.Create(prof)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	return runUAContext(ctx, args, os.Stdout, os.Stderr)
}

// writeHeapProfile writes the live heap, after a collection, to file.
func writeHeapProfile(file string) error {
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	runtime.GC()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// cpuProfileFlag returns the -cpuprofile value of args, "" if none or if
// they do not parse (runUAContext then reports why).
func cpuProfileFlag(args []string) string {
	f, err := parseUAFlags(args, io.Discard)
	if err != nil {
		return ""
	}
	return f.cpuProfile
}

// errCallsFailed is returned by runUAContext when a call it placed failed.
var errCallsFailed = errors.New("ua: calls failed")

// errTransfersFailed is returned by runUAContext when a transfer it
// started failed (and every call it placed was established).
var errTransfersFailed = errors.New("ua: transfers failed")

// checkTarget checks the URI of flag name: sip or sips. A host name is
// located by RFC 3263 when the call is placed.
func checkTarget(name, target string) error {
	var u sip.URI
	if err := u.Parse([]byte(target)); err != nil {
		return fmt.Errorf("ua: %s: %w", name, err)
	}
	if u.Scheme != sip.SchemeSIP && u.Scheme != sip.SchemeSIPS {
		return fmt.Errorf("ua: %s %q: want a sip or sips URI", name, target)
	}
	return nil
}

// splitAdvertise reads -advertise: a host name or IP address, with an
// optional port.
func splitAdvertise(s string) (host string, port uint16, err error) {
	var u sip.URI
	if err := u.Parse([]byte("sip:" + s)); err != nil || len(u.Host) == 0 || len(u.User) > 0 || len(u.Params) > 0 {
		return "", 0, fmt.Errorf("ua: -advertise %q: want host[:port]", s)
	}
	return string(u.Host), uint16(u.Port), nil
}

// locationConfig applies -resolver, -advertise and the TLS files to cfg.
func locationConfig(f *uaFlags, cfg *dialog.Config) error {
	if f.resolver.IsValid() {
		cfg.Locator = &locate.Locator{Resolver: locate.NewCache(&locate.Client{Server: f.resolver}, transport.SystemClock(), locate.CacheConfig{})}
	}
	if f.advertise != "" {
		cfg.Transport.Host, cfg.Transport.Port, _ = splitAdvertise(f.advertise)
	}
	if f.tlsCert == "" && f.tlsCA == "" {
		return nil
	}
	tc := cfg.Transport.TLS
	if tc == nil {
		tc = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if f.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(f.tlsCert, f.tlsKey)
		if err != nil {
			return fmt.Errorf("ua: -tls-cert: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	if f.tlsCA != "" {
		pem, err := os.ReadFile(f.tlsCA)
		if err != nil {
			return fmt.Errorf("ua: -tls-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("ua: -tls-ca %s: no PEM certificate", f.tlsCA)
		}
		// The CA vouches for servers and for clients: a client that
		// presents a certificate must chain to it (mutual TLS).
		tc.RootCAs, tc.ClientCAs, tc.ClientAuth = pool, pool, tls.VerifyClientCertIfGiven
	}
	cfg.Transport.TLS = tc
	return nil
}

// runUAContext runs the UA until ctx ends (or -duration, or its calls
// end), writing events to stdout and logs to stderr. The stats event is
// the last line it writes.
func runUAContext(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f, err := parseUAFlags(args, stderr)
	if err != nil {
		return err
	}
	if f.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.duration)
		defer cancel()
	}
	level := slog.LevelInfo
	if f.logDebug {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false) // URIs keep their <>, for scripts to grep
	events := &eventWriter{enc: enc}

	cfg := dialog.Config{Logger: logger, OutboundProxy: f.proxy, Credentials: f.credentials(), SessionExpires: f.sessionExpires}
	if f.proto == transport.TLS && f.tlsCert == "" {
		if cfg.Transport.TLS, err = transport.SelfSignedTLS(); err != nil {
			return err
		}
	}
	if err := locationConfig(f, &cfg); err != nil {
		return err
	}
	app, err := newUAApp(f, events, cfg)
	if err != nil {
		return err
	}

	var addr transport.Addr
	switch f.proto {
	case transport.UDP:
		addr, err = app.ua.ListenUDP(f.listen)
	case transport.TCP:
		addr, err = app.ua.ListenTCP(f.listen)
	case transport.TLS:
		addr, err = app.ua.ListenTLS(f.listen)
	}
	if err != nil {
		app.ua.Close()
		return fmt.Errorf("ua: listen: %w", err)
	}
	app.listening(addr)
	logger.Info("ua listening", "addr", addr.String(), "contact", contactHeader(f.user, addr))
	events.write(listeningEvent{Event: "listening", Transport: transportName(addr.Proto), Addr: addr.AddrPort.String()})
	ctx, regFailed, unregister, err := app.startRegistration(ctx)
	if err != nil {
		app.close()
		return err
	}

	// stopping ends when the UA is told to exit; its calls then get
	// shutdownGrace more to be hung up, with hardStop.
	stopping, stopCalls := context.WithCancel(ctx)
	defer stopCalls()
	hardStop, cancelHard := context.WithCancel(context.Background())
	defer cancelHard()
	context.AfterFunc(stopping, func() { time.AfterFunc(shutdownGrace, cancelHard) })

	callsDone := make(chan struct{})
	if f.call != "" {
		go func() {
			app.placeCalls(stopping, hardStop)
			close(callsDone)
		}()
	}
	select {
	case <-ctx.Done():
	case <-callsDone:
	}
	stopCalls()
	if f.call != "" {
		<-callsDone
	}
	app.hangUpHeld(hardStop)

	unregister()
	if f.memProfile != "" {
		if err := writeHeapProfile(f.memProfile); err != nil {
			logger.Error("ua: heap profile", "err", err)
		}
	}
	s := app.close()
	events.write(s)
	if err := regFailed(); err != nil {
		return err
	}
	if err := app.authFailure(); err != nil {
		return err
	}
	if s.CallsFailed > 0 || s.HangupsFailed > 0 {
		return fmt.Errorf("%w: %d of %d calls placed not established, %d hang-ups failed",
			errCallsFailed, s.CallsFailed, s.CallsPlaced, s.HangupsFailed)
	}
	if s.TransfersFailed > 0 {
		return fmt.Errorf("%w: %d of %d", errTransfersFailed, s.TransfersFailed, s.TransfersStarted)
	}
	return nil
}

// shutdownGrace is how long the UA waits at exit for the answers to the
// BYEs it sends then.
const shutdownGrace = 2 * time.Second

// uaApp is the application on top of the dialog UA: the policy for
// incoming calls and REFERs, the caller and transferor, and the events and
// counters.
type uaApp struct {
	f      *uaFlags
	ua     *dialog.UA
	ev     *event.Manager
	agent  *refer.Agent
	events *eventWriter
	log    *slog.Logger
	tracer *responseTracer
	media  mediaDesc // set by listening

	mu       sync.Mutex
	closing  bool                       // no more incoming calls or REFERs
	held     map[*dialog.Call]struct{}  // incoming and referred calls not ended yet
	referIDs map[*refer.Incoming]string // Call-ID chosen for the call a REFER is about to place
	watchers sync.WaitGroup             // one per held call, until its last event

	placed, established, failed, cancelled, hangupsFailed atomic.Uint64
	received, receivedEstablished, receivedFailed         atomic.Uint64

	authErr error // the first request refused for its credentials (noteAuth)

	transfersStarted, transfersOK, transfersFailed, transfersCancelled atomic.Uint64
	refersReceived, refersAccepted, refersDeclined                     atomic.Uint64
	referred, referredEstablished, referredFailed                      atomic.Uint64
}

// newUAApp makes the dialog UA with the application's handlers, and its
// event Manager and REFER Agent; base supplies the clock, logger and TLS
// configuration.
func newUAApp(f *uaFlags, events *eventWriter, base dialog.Config) (*uaApp, error) {
	a := &uaApp{f: f, events: events, held: make(map[*dialog.Call]struct{}), referIDs: make(map[*refer.Incoming]string)}
	a.tracer = &responseTracer{events: events, verbose: f.verbose}
	cfg := base
	cfg.User = f.user
	cfg.Transport.Tracer = a.tracer
	cfg.OnInvite = a.onInvite
	cfg.OnReInvite = a.onReInvite
	a.ua = dialog.NewUA(cfg)
	a.log = a.ua.Logger()
	// RFC 3428 §7: a MESSAGE outside a dialog is answered 200 by the UAS
	// that accepts it; this UA shows nothing, so it accepts them all.
	a.ua.Handle("MESSAGE", dialog.HandlerFunc(func(r *dialog.Request) {
		if err := r.Respond(200, "", nil); err != nil {
			a.log.Warn("ua: cannot answer MESSAGE", "err", err)
		}
	}))
	// The event T1 must be the UA's (Timer N is 64*T1).
	a.ev = event.New(a.ua, event.Config{T1: a.ua.T1()})
	rc := refer.Config{
		OnRefer:              a.onRefer,
		IgnoreNoSubscription: f.referSubIgn,
		AcceptOutsideDialog:  f.acceptOut,
		CallOptions:          a.referredCallOptions,
		OnCall:               a.onReferredCall,
	}
	if f.rfc3515 {
		rc.AcceptCode = 202
	}
	agent, err := refer.New(a.ua, a.ev, rc)
	if err != nil {
		a.ev.Close()
		a.ua.Close()
		return nil, err
	}
	a.agent = agent
	return a, nil
}

// listening records the listening address, which the SDP names.
func (a *uaApp) listening(addr transport.Addr) {
	// Sess-ids from an NTP-like timestamp, as RFC 4566 §5.2 suggests.
	a.media = newMediaDesc(addr.AddrPort.Addr(), addr.AddrPort.Port(), uint64(a.ua.Clock().Now().Unix()))
}

// answerSDP is this UA's description in the 2xx to INVITE req: the answer
// to its offer, or an offer of ours when it has none (RFC 3264 §4).
func (a *uaApp) answerSDP(req *sip.Message) []byte {
	if len(req.Body()) == 0 {
		return a.media.offer()
	}
	return a.media.answer(nil, req.Body())
}

// onReInvite answers a re-INVITE in a call: its offer (a hold, a resume)
// gets the matching answer, and an offerless one gets our last
// description as the offer, both versioned as RFC 3264 §8 says. It runs
// on the transport's goroutine and must not block.
func (a *uaApp) onReInvite(c *dialog.Call, req *sip.Message) (int, []byte) {
	prev := c.LocalBody()
	if len(req.Body()) == 0 {
		if len(prev) == 0 {
			return 200, a.media.offer()
		}
		return 200, prev
	}
	return 200, a.media.answer(prev, req.Body())
}

const sdpType = "application/sdp"

// onInvite answers an incoming INVITE outside a dialog by the flags, or,
// for one with Replaces, as RFC 3891 says. It runs on the transport's
// goroutine and must not block.
func (a *uaApp) onInvite(c *dialog.Call, req *sip.Message) {
	callID := string(req.CallID())
	if !a.hold(c) {
		// RFC 3261 §21.5.4: the UA is going away.
		c.Reject(503, "Shutting Down")
		return
	}
	a.received.Add(1)
	ev := callEvent{Event: "call_incoming", CallID: callID, Direction: "in", From: string(req.Get(sip.HeaderFrom))}
	if r, err := req.Replaces(); err == nil {
		ev.Replaces = string(r.CallID)
	}
	a.events.write(ev)
	go a.watchCall(c, callID, "in", "", &a.receivedEstablished, &a.receivedFailed)

	// An attended transfer: the transferee's INVITE replaces our call
	// with the transferor (RFC 5589 §7.3), answered at once.
	body := a.answerSDP(req)
	if a.agent.AcceptReplaces(c, req, sdpType, body) {
		return
	}
	if a.f.ring {
		if err := c.Ring(); err != nil {
			a.log.Warn("ua: cannot ring", "call_id", callID, "err", err)
		}
	}
	var err error
	if a.f.answerCode == 200 {
		err = c.Answer(sdpType, body)
	} else {
		err = c.Reject(a.f.answerCode, "")
	}
	if err != nil {
		a.log.Warn("ua: cannot answer INVITE", "call_id", callID, "code", a.f.answerCode, "err", err)
	}
}

// hold adds c to the calls hung up at exit and starts counting its
// watcher; false when the UA is closing.
func (a *uaApp) hold(c *dialog.Call) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closing {
		return false
	}
	a.held[c] = struct{}{}
	a.watchers.Add(1)
	return true
}

// watchCall writes the events of a held call (incoming, or placed for a
// REFER) until it ends, and counts it in established or failed.
func (a *uaApp) watchCall(c *dialog.Call, callID, direction, purpose string, established, failed *atomic.Uint64) {
	defer a.watchers.Done()
	up := false
	select {
	case <-c.Established():
		up = true
	case <-c.Done():
		// Both may be closed: an ACK and a BYE back to back.
		select {
		case <-c.Established():
			up = true
		default:
		}
	}
	if up {
		established.Add(1)
		a.events.write(callEvent{Event: "call_established", CallID: callID, Direction: direction, Purpose: purpose})
	}
	<-c.Done()
	a.mu.Lock()
	delete(a.held, c)
	a.mu.Unlock()
	if up {
		a.events.write(callEvent{Event: "call_ended", CallID: callID, Direction: direction, Purpose: purpose, Reason: errString(c.Err())})
		return
	}
	failed.Add(1)
	ev := failedEvent(callID, direction, c.Err(), false)
	ev.Purpose = purpose
	a.events.write(ev)
}

// hangUpHeld ends the calls still held at exit, incoming or placed for a
// REFER: BYE when answered, CANCEL or 603 when not yet, waiting for the
// answers until ctx ends. New INVITEs get 503 from now on.
func (a *uaApp) hangUpHeld(ctx context.Context) {
	a.mu.Lock()
	a.closing = true
	calls := make([]*dialog.Call, 0, len(a.held))
	for c := range a.held {
		calls = append(calls, c)
	}
	a.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.Hangup(ctx); err != nil {
				a.log.Info("ua: hang-up at exit", "err", err)
			}
		}()
	}
	wg.Wait()
}

// onRefer decides a REFER that passed the Agent's checks, by the flags
// (the transferee's role). It runs on the transport's goroutine.
func (a *uaApp) onRefer(in *refer.Incoming) {
	a.refersReceived.Add(1)
	ev := referReceivedEvent{
		Event:          "refer_received",
		CallID:         string(in.Msg.CallID()),
		ReferTo:        string(in.Msg.Get(sip.HeaderReferTo)),
		ID:             in.ID,
		InDialog:       in.Dialog != nil,
		NoSubscription: in.NoSubscription,
		Attended:       in.Target.HasReplaces(),
		ReferredBy:     string(in.Target.ReferredBy),
	}
	if in.About != nil {
		if d := in.About.Dialog(); d != nil {
			ev.About = d.ID().CallID
		}
	}
	if v, present, err := in.Msg.ReferSub(); err == nil && present && !v {
		ev.NoReferSub = true
	}
	a.mu.Lock()
	closing := a.closing
	a.mu.Unlock()
	var err error
	switch {
	case closing:
		ev.Code = 503
		a.refersDeclined.Add(1)
		a.events.write(ev)
		err = in.Reject(503, "Shutting Down")
	case !a.f.acceptRefer:
		ev.Code = 603
		a.refersDeclined.Add(1)
		a.events.write(ev)
		err = in.Reject(603, "Declined")
	default:
		ev.Code = 200
		if a.f.rfc3515 {
			ev.Code = 202
		}
		a.refersAccepted.Add(1)
		a.events.write(ev)
		// Accept answers, sends the first NOTIFY and dials the target,
		// all before it returns (referredCallOptions, onReferredCall).
		err = in.Accept()
		a.mu.Lock()
		callID, undialled := a.referIDs[in]
		delete(a.referIDs, in)
		a.mu.Unlock()
		if undialled {
			// The Agent could not send the INVITE (and notified 503).
			a.referred.Add(1)
			a.referredFailed.Add(1)
			a.events.write(callEvent{Event: "call_failed", CallID: callID, Direction: "out", Purpose: "referred", Reason: "cannot call " + string(in.Target.URI().Raw)})
		}
	}
	if err != nil {
		a.events.write(errorEvent{Event: "error", CallID: ev.CallID, Error: "answering REFER: " + err.Error()})
	}
}

// referredCallOptions are the options of the INVITE the Agent sends to a
// Refer-To target: the SDP offer and a Call-ID chosen here, so that the
// events can name the call.
func (a *uaApp) referredCallOptions(in *refer.Incoming) *dialog.CallOptions {
	callID := newCallID()
	a.mu.Lock()
	a.referIDs[in] = callID
	a.mu.Unlock()
	return &dialog.CallOptions{InitialOptions: dialog.InitialOptions{
		CallID:         callID,
		RequestOptions: dialog.RequestOptions{ContentType: sdpType, Body: a.media.offer()},
	}}
}

// onReferredCall watches the call the Agent placed for a REFER. It is
// held until the target hangs up or the UA exits.
func (a *uaApp) onReferredCall(in *refer.Incoming, c *dialog.Call) {
	a.mu.Lock()
	callID := a.referIDs[in]
	delete(a.referIDs, in)
	// Held even when closing: UA.Close ends it at the latest.
	a.held[c] = struct{}{}
	a.watchers.Add(1)
	a.mu.Unlock()
	a.referred.Add(1)
	go a.watchCall(c, callID, "out", "referred", &a.referredEstablished, &a.referredFailed)
}

// placeCalls places the calls of -call, -max-calls and -call-rate, and
// returns when each has ended. Calls still being set up when stopping
// ends are cancelled and those up are hung up; hardStop bounds the wait
// for the answers to their BYEs.
func (a *uaApp) placeCalls(stopping, hardStop context.Context) {
	interval := time.Duration(float64(time.Second) / a.f.callRate)
	tick := time.NewTicker(max(interval, time.Microsecond))
	defer tick.Stop()
	var wg sync.WaitGroup
loop:
	for i := 0; a.f.maxCalls == 0 || i < a.f.maxCalls; i++ {
		if i > 0 {
			select {
			case <-tick.C:
			case <-stopping.Done():
				break loop
			}
		}
		if stopping.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.placeCall(stopping, hardStop)
		}()
	}
	wg.Wait()
}

// placeCall places one call, keeps it -hold long, transfers it with
// -transfer-to, and hangs up.
func (a *uaApp) placeCall(stopping, hardStop context.Context) {
	a.placed.Add(1)
	callID := newCallID()
	opts := &dialog.CallOptions{InitialOptions: dialog.InitialOptions{
		CallID:         callID,
		RequestOptions: dialog.RequestOptions{ContentType: sdpType, Body: a.media.offer()},
	}}
	c, err := a.ua.Invite(stopping, a.f.call, opts)
	if err != nil {
		cut := stopping.Err() != nil && errors.Is(err, dialog.ErrCancelled)
		if cut {
			a.cancelled.Add(1)
		} else {
			a.failed.Add(1)
		}
		a.noteAuth(err)
		a.events.write(failedEvent(callID, "out", err, cut))
		return
	}
	a.established.Add(1)
	a.events.write(callEvent{Event: "call_established", CallID: callID, Direction: "out"})

	if a.f.hold > 0 {
		t := time.NewTimer(a.f.hold)
		select {
		case <-t.C:
		case <-c.Done():
		case <-stopping.Done():
		}
		t.Stop()
	}
	if a.f.transferTo != "" && stopping.Err() == nil {
		a.transfer(stopping, hardStop, c, callID)
	}
	ev := callEvent{Event: "call_ended", CallID: callID, Direction: "out"}
	select {
	case <-c.Done(): // the peer hung up first
	default:
		if err := c.Bye(hardStop); err != nil {
			a.hangupsFailed.Add(1)
			ev.ByeError = err.Error()
		}
	}
	<-c.Done() // Bye ends the call at once, whatever its outcome
	ev.Reason = errString(c.Err())
	a.events.write(ev)
}

// attendedReferTo is the Refer-To of an attended transfer whose
// consultation is consult: its Contact with a Replaces, or uri with that
// Replaces when uri is set (-refer-to-uri).
func attendedReferTo(consult *dialog.Dialog, uri string) (string, error) {
	referTo, err := refer.AttendedReferTo(consult)
	if err != nil || uri == "" {
		return referTo, err
	}
	var u sip.URI
	if err := u.Parse([]byte(uri)); err != nil {
		return "", err
	}
	id := consult.ID()
	return string(refer.AppendReferToReplaces(nil, &u, id.CallID, id.RemoteTag, id.LocalTag, false)), nil
}

// replacedByeWait is how long the transferor of an attended transfer
// waits for the target's BYE of the consultation (RFC 5589 §7.3: the
// target ends the replaced dialog) before sending its own.
const replacedByeWait = 2 * time.Second

// transfer transfers the established call c to -transfer-to (the
// transferor's role, RFC 5589 §6.1 and §7.3) and returns when the
// transfer is over, the consultation of -attended ended. Once stopping
// ends it waits for the outcome until hardStop does.
func (a *uaApp) transfer(stopping, hardStop context.Context, c *dialog.Call, callID string) {
	a.transfersStarted.Add(1)
	d := c.Dialog()
	referTo := "<" + a.f.transferTo + ">"
	var consult *dialog.Call
	var consultID string
	// over reports the outcome, then ends the consultation if any.
	over := func(res refer.Result, err error, cut bool) {
		a.transferOver(callID, res, err, cut)
		if consult != nil {
			a.endConsult(hardStop, consult, consultID, err == nil)
		}
	}
	if a.f.attended {
		// RFC 5589 §7.3: the transferor consults the target first, then
		// REFERs with a Replaces naming that call.
		consultID = newCallID()
		var err error
		consult, err = a.ua.Invite(stopping, a.f.transferTo, &dialog.CallOptions{InitialOptions: dialog.InitialOptions{
			CallID:         consultID,
			RequestOptions: dialog.RequestOptions{ContentType: sdpType, Body: a.media.offer()},
		}})
		if err != nil {
			ev := failedEvent(consultID, "out", err, stopping.Err() != nil && errors.Is(err, dialog.ErrCancelled))
			ev.Purpose = "consult"
			a.events.write(ev)
			consult = nil
			over(refer.Result{}, fmt.Errorf("consultation: %w", err), ev.Cancelled)
			return
		}
		a.events.write(callEvent{Event: "call_established", CallID: consultID, Direction: "out", Purpose: "consult"})
		if referTo, err = attendedReferTo(consult.Dialog(), a.f.referToURI); err != nil {
			over(refer.Result{}, err, false)
			return
		}
	}

	opts := &refer.ReferOptions{
		ReferTo:        referTo,
		ReferredBy:     a.agent.Self(d),
		NoSubscription: a.f.noReferSub,
		OnProgress:     func(_ *refer.Transfer, p refer.Progress) { a.progress(callID, p) },
	}
	// Written first: the answer may come before Refer returns.
	a.events.write(referSentEvent{Event: "refer_sent", CallID: callID, ReferTo: referTo,
		OutOfDialog: a.f.outOfDialog, NoReferSub: a.f.noReferSub, Attended: a.f.attended})
	var tr *refer.Transfer
	var err error
	if a.f.outOfDialog {
		// RFC 4538: outside the dialog, to the transferee's Contact (the
		// UA instance holding the call), which Target-Dialog names.
		id := d.ID()
		opts.TargetDialog = &id
		tr, err = a.agent.ReferOutside(d.RemoteTarget(), opts)
	} else {
		tr, err = a.agent.Refer(d, opts)
	}
	if err != nil {
		over(refer.Result{}, fmt.Errorf("sending REFER: %w", err), false)
		return
	}
	select {
	case <-tr.Done():
	case <-hardStop.Done():
		over(tr.Result(), errors.New("ua exiting"), true)
		return
	}
	res := tr.Result()
	over(res, res.Err, false)
}

// progress writes the events of a transfer's steps but the last, which
// transfer writes.
func (a *uaApp) progress(callID string, p refer.Progress) {
	switch p.Kind {
	case refer.Accepted, refer.Rejected:
		a.events.write(referResponseEvent{Event: "refer_response", CallID: callID, Code: p.Code, Reason: p.Reason})
	case refer.Notified:
		a.events.write(notifyEvent{Event: "notify", CallID: callID, Code: p.Code, Reason: p.Reason, State: p.State.String(), Error: errString(p.Err)})
	}
}

// transferOver counts a transfer and writes its transfer_result; cut
// marks one the exit interrupted, which is not a failure.
func (a *uaApp) transferOver(callID string, res refer.Result, err error, cut bool) {
	a.noteAuth(err)
	ev := transferResultEvent{Event: "transfer_result", CallID: callID, OK: err == nil,
		ReferCode: res.ReferCode, Code: res.Code, Reason: res.Reason, NoSubscription: res.NoSubscription,
		Cancelled: cut, Error: errString(err)}
	switch {
	case err == nil:
		a.transfersOK.Add(1)
	case cut:
		a.transfersCancelled.Add(1)
	default:
		a.transfersFailed.Add(1)
	}
	a.events.write(ev)
}

// endConsult ends the consultation of an attended transfer. After a
// transfer that worked the target hangs it up, the transferee's INVITE
// having replaced it; if it has not within replacedByeWait, or at once
// after a failed transfer, this side does.
func (a *uaApp) endConsult(hardStop context.Context, c *dialog.Call, callID string, replaced bool) {
	if replaced {
		t := time.NewTimer(replacedByeWait)
		select {
		case <-c.Done():
		case <-t.C:
		case <-hardStop.Done():
		}
		t.Stop()
	}
	ev := callEvent{Event: "call_ended", CallID: callID, Direction: "out", Purpose: "consult"}
	select {
	case <-c.Done():
	default:
		if err := c.Bye(hardStop); err != nil {
			a.hangupsFailed.Add(1)
			ev.ByeError = err.Error()
		}
	}
	<-c.Done()
	ev.Reason = errString(c.Err())
	a.events.write(ev)
}

// close closes the UA and returns the stats: dialogs and transactions
// still held once the transport has stopped reading, then the counters.
func (a *uaApp) close() statsEvent {
	// Closing the transport stops reading and waits for the handlers
	// running on its goroutines, so the counts below are final. That
	// matters for dialogs: a Call's Done closes before the Call leaves
	// its dialog, so a BYE just answered may still hold one.
	a.ua.Transport().Close()
	dialogs := a.ua.Dialogs()
	client, server := a.ua.Transactions().Transactions()
	a.ev.Close() // before the UA, as package event asks
	a.ua.Close()
	a.watchers.Wait() // Close has ended every held call
	s := newStatsEvent(a.ua.Transport().Stats(), a.tracer.answered.Load(), client, server)
	s.Dialogs = dialogs
	s.Overloaded = a.ua.Transactions().Overloaded()
	s.DialogsRefused = a.ua.Refused()
	s.SubscriptionsRefused = a.ev.Refused()
	s.CallsPlaced = a.placed.Load()
	s.CallsEstablished = a.established.Load()
	s.CallsFailed = a.failed.Load()
	s.CallsCancelled = a.cancelled.Load()
	s.HangupsFailed = a.hangupsFailed.Load()
	s.CallsReceived = a.received.Load()
	s.CallsReceivedEstablished = a.receivedEstablished.Load()
	s.CallsReceivedFailed = a.receivedFailed.Load()
	s.TransfersStarted = a.transfersStarted.Load()
	s.TransfersOK = a.transfersOK.Load()
	s.TransfersFailed = a.transfersFailed.Load()
	s.TransfersCancelled = a.transfersCancelled.Load()
	s.RefersReceived = a.refersReceived.Load()
	s.RefersAccepted = a.refersAccepted.Load()
	s.RefersDeclined = a.refersDeclined.Load()
	s.RefersRefused = a.tracer.refused.Load()
	s.ReferredCalls = a.referred.Load()
	s.ReferredCallsEstablished = a.referredEstablished.Load()
	s.ReferredCallsFailed = a.referredFailed.Load()
	return s
}

// newCallID returns a Call-ID of 128 random bits in hex (RFC 3261
// §8.1.1.4), chosen here so that the events can name calls that never got
// a dialog.
func newCallID() string {
	return fmt.Sprintf("%016x%016x", rand.Uint64(), rand.Uint64())
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// failedEvent describes a call that ended without being established;
// cut marks one cancelled because the UA is exiting.
func failedEvent(callID, direction string, err error, cut bool) callEvent {
	ev := callEvent{Event: "call_failed", CallID: callID, Direction: direction, Reason: errString(err), Cancelled: cut}
	var se *dialog.StatusError
	var ae *dialog.AuthError
	if errors.As(err, &se) {
		ev.Status = se.Code
	} else if errors.As(err, &ae) {
		ev.Status = ae.Code
	}
	return ev
}

// responseTracer is the transport's Tracer: it counts the final responses
// sent, writes a refer_refused event for each non-2xx one to a REFER and,
// with -v, a request event for each. The dialog UA and the REFER Agent
// answer OPTIONS, BYE, unknown methods and bad REFERs themselves, so this
// is where the demo sees those answers.
type responseTracer struct {
	answered atomic.Uint64
	refused  atomic.Uint64 // non-2xx final responses to REFER
	events   *eventWriter
	verbose  bool
}

func (t *responseTracer) TraceMessage(tr *transport.Trace) {
	if !tr.Sent {
		return
	}
	code, ok := finalStatus(tr.Msg)
	if !ok {
		return
	}
	t.answered.Add(1)
	if !t.verbose && code < 300 {
		return
	}
	var m sip.Message
	if err := sip.Parse(&m, append([]byte(nil), tr.Msg...)); err != nil {
		return
	}
	cseq, err := m.CSeq()
	if err != nil {
		return
	}
	if code >= 300 && cseq.Method == sip.MethodRefer {
		t.refused.Add(1)
		t.events.write(referRefusedEvent{Event: "refer_refused", CallID: string(m.CallID()), Code: code, Reason: string(m.Reason())})
	}
	if t.verbose {
		t.events.write(requestEvent{Event: "request", Method: string(cseq.MethodName), CallID: string(m.CallID()), Status: code})
	}
}

// finalStatus returns the code of a final response's status line
// (RFC 3261 §7.2), without parsing the rest.
func finalStatus(msg []byte) (int, bool) {
	const prefix = "SIP/2.0 "
	if len(msg) < len(prefix)+3 || string(msg[:len(prefix)]) != prefix {
		return 0, false
	}
	code, err := strconv.Atoi(string(msg[len(prefix) : len(prefix)+3]))
	if err != nil || code < 200 {
		return 0, false
	}
	return code, true
}

// contactHeader returns the Contact value for user at addr: a sip URI with
// transport=tcp for TCP, a sips URI for TLS (RFC 3261 §19.1). The dialog
// UA writes its own; this one is for the log.
func contactHeader(user string, addr transport.Addr) string {
	switch addr.Proto {
	case transport.TCP:
		return "<sip:" + user + "@" + addr.AddrPort.String() + ";transport=tcp>"
	case transport.TLS:
		return "<sips:" + user + "@" + addr.AddrPort.String() + ">"
	}
	return "<sip:" + user + "@" + addr.AddrPort.String() + ">"
}

// transportName returns the lower-case name the -transport flag uses.
func transportName(p transport.Protocol) string {
	switch p {
	case transport.TCP:
		return "tcp"
	case transport.TLS:
		return "tls"
	}
	return "udp"
}

// eventWriter writes JSON events, one per line, from any goroutine.
type eventWriter struct {
	mu  sync.Mutex
	enc *json.Encoder
}

func (w *eventWriter) write(v any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.enc.Encode(v); err != nil && !errors.Is(err, os.ErrClosed) && !errors.Is(err, io.ErrClosedPipe) {
		fmt.Fprintln(os.Stderr, "demo: writing event:", err)
	}
}

type listeningEvent struct {
	Event     string `json:"event"`
	Transport string `json:"transport"`
	Addr      string `json:"addr"`
}

type requestEvent struct {
	Event  string `json:"event"`
	Method string `json:"method"`
	CallID string `json:"call_id"`
	Status int    `json:"status"`
}

// callEvent is every call_* event; the fields an event has no use for are
// left out.
type callEvent struct {
	Event     string `json:"event"`
	CallID    string `json:"call_id"`
	Direction string `json:"direction,omitempty"` // "in" or "out"
	Purpose   string `json:"purpose,omitempty"`   // "consult", "referred" or none
	From      string `json:"from,omitempty"`
	Replaces  string `json:"replaces,omitempty"` // Call-ID named by a Replaces
	Status    int    `json:"status,omitempty"`
	Reason    string `json:"reason,omitempty"`
	ByeError  string `json:"bye_error,omitempty"`
	Cancelled bool   `json:"cancelled,omitempty"`
}

// referReceivedEvent is a REFER that reached the policy (transferee).
type referReceivedEvent struct {
	Event          string `json:"event"`
	CallID         string `json:"call_id"`
	ReferTo        string `json:"refer_to"`
	ID             string `json:"id"`
	InDialog       bool   `json:"in_dialog"`
	About          string `json:"about,omitempty"`
	NoReferSub     bool   `json:"norefersub"`
	NoSubscription bool   `json:"no_subscription"`
	Attended       bool   `json:"attended"`
	ReferredBy     string `json:"referred_by,omitempty"`
	Code           int    `json:"code"`
}

// referRefusedEvent is a non-2xx final response sent to a REFER.
type referRefusedEvent struct {
	Event  string `json:"event"`
	CallID string `json:"call_id"`
	Code   int    `json:"code"`
	Reason string `json:"reason,omitempty"`
}

// referSentEvent is a REFER sent (transferor).
type referSentEvent struct {
	Event       string `json:"event"`
	CallID      string `json:"call_id"`
	ReferTo     string `json:"refer_to"`
	OutOfDialog bool   `json:"out_of_dialog"`
	NoReferSub  bool   `json:"norefersub"`
	Attended    bool   `json:"attended"`
}

// referResponseEvent is the final response to a REFER sent.
type referResponseEvent struct {
	Event  string `json:"event"`
	CallID string `json:"call_id"`
	Code   int    `json:"code"`
	Reason string `json:"reason,omitempty"`
}

// notifyEvent is a NOTIFY of a transfer's subscription.
type notifyEvent struct {
	Event  string `json:"event"`
	CallID string `json:"call_id"`
	Code   int    `json:"code,omitempty"` // the sipfrag's status; absent if unreadable
	Reason string `json:"reason,omitempty"`
	State  string `json:"state"` // Subscription-State: active, pending or terminated
	Error  string `json:"error,omitempty"`
}

// transferResultEvent is how a transfer ended.
type transferResultEvent struct {
	Event          string `json:"event"`
	CallID         string `json:"call_id"`
	OK             bool   `json:"ok"`
	ReferCode      int    `json:"refer_code"`
	Code           int    `json:"code"`
	Reason         string `json:"reason,omitempty"`
	NoSubscription bool   `json:"no_subscription"`
	Cancelled      bool   `json:"cancelled,omitempty"`
	Error          string `json:"error,omitempty"`
}

// errorEvent is something the UA could not do.
type errorEvent struct {
	Event  string `json:"event"`
	CallID string `json:"call_id,omitempty"`
	Error  string `json:"error"`
}

// statsEvent is transport.Stats in snake case, the final responses sent,
// the dialogs and transactions still alive at exit (non-INVITE server
// transactions over UDP wait 64*T1 in Completed, RFC 3261 §17.2.2), and
// the calls.
type statsEvent struct {
	Event              string `json:"event"`
	Received           uint64 `json:"received"`
	Sent               uint64 `json:"sent"`
	SendErrors         uint64 `json:"send_errors"`
	ParseErrors        uint64 `json:"parse_errors"`
	Invalid            uint64 `json:"invalid"`
	Rejected           uint64 `json:"rejected"`
	DroppedRequests    uint64 `json:"dropped_requests"`
	DroppedResponses   uint64 `json:"dropped_responses"`
	KeepAlives         uint64 `json:"keep_alives"`
	Pongs              uint64 `json:"pongs"`
	FramingErrors      uint64 `json:"framing_errors"`
	RefusedConns       uint64 `json:"refused_conns"`
	IdleClosed         uint64 `json:"idle_closed"`
	OpenConns          int    `json:"open_conns"`
	Answered           uint64 `json:"answered"`
	TransactionsClient int    `json:"transactions_client"`
	TransactionsServer int    `json:"transactions_server"`
	Dialogs            int    `json:"dialogs"`
	// Requests refused for a limit: MaxUnanswered (503), MaxDialogs (503),
	// MaxSubscriptions or MaxPerDialog (503 or 403).
	Overloaded           uint64 `json:"overloaded"`
	DialogsRefused       uint64 `json:"dialogs_refused"`
	SubscriptionsRefused uint64 `json:"subscriptions_refused"`

	CallsPlaced              uint64 `json:"calls_placed"`
	CallsEstablished         uint64 `json:"calls_established"`
	CallsFailed              uint64 `json:"calls_failed"`
	CallsCancelled           uint64 `json:"calls_cancelled"`
	HangupsFailed            uint64 `json:"hangups_failed"`
	CallsReceived            uint64 `json:"calls_received"`
	CallsReceivedEstablished uint64 `json:"calls_received_established"`
	CallsReceivedFailed      uint64 `json:"calls_received_failed"`

	TransfersStarted         uint64 `json:"transfers_started"`
	TransfersOK              uint64 `json:"transfers_ok"`
	TransfersFailed          uint64 `json:"transfers_failed"`
	TransfersCancelled       uint64 `json:"transfers_cancelled"`
	RefersReceived           uint64 `json:"refers_received"`
	RefersAccepted           uint64 `json:"refers_accepted"`
	RefersDeclined           uint64 `json:"refers_declined"`
	RefersRefused            uint64 `json:"refers_refused"`
	ReferredCalls            uint64 `json:"referred_calls"`
	ReferredCallsEstablished uint64 `json:"referred_calls_established"`
	ReferredCallsFailed      uint64 `json:"referred_calls_failed"`
}

func newStatsEvent(s transport.Stats, answered uint64, client, server int) statsEvent {
	return statsEvent{
		Event:              "stats",
		Received:           s.Received,
		Sent:               s.Sent,
		SendErrors:         s.SendErrors,
		ParseErrors:        s.ParseErrors,
		Invalid:            s.Invalid,
		Rejected:           s.Rejected,
		DroppedRequests:    s.DroppedRequests,
		DroppedResponses:   s.DroppedResponses,
		KeepAlives:         s.KeepAlives,
		Pongs:              s.Pongs,
		FramingErrors:      s.FramingErrors,
		RefusedConns:       s.RefusedConns,
		IdleClosed:         s.IdleClosed,
		OpenConns:          s.OpenConns,
		Answered:           answered,
		TransactionsClient: client,
		TransactionsServer: server,
	}
}

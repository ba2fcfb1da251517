// The flags of "demo ua": its usage text (what the UA does and the JSON
// events it writes), their parsing and checks, and how -resolver,
// -advertise and the TLS files configure the dialog UA.

package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"time"

	"github.com/sipxfer/sipxfer/dialog"
	"github.com/sipxfer/sipxfer/locate"
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
	udpReaders int // transport.Config.UDPReaders
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

// maxUDPReaders bounds -udp-readers: more readers than cores only add
// goroutines and sockets.
const maxUDPReaders = 64

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
	fs.IntVar(&f.udpReaders, "udp-readers", 1, "with -transport udp: `sockets` bound to the -listen address with SO_REUSEPORT, each read by its own goroutine (Linux; up to 64; elsewhere 1), so receiving can use more than one core while a peer's datagrams stay in order")
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
	if f.udpReaders < 1 || f.udpReaders > maxUDPReaders {
		return nil, fmt.Errorf("ua: -udp-readers %d: want 1 to %d", f.udpReaders, maxUDPReaders)
	}
	return f, nil
}

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

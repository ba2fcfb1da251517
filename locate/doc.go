// Package locate finds where to send a SIP request: the ordered list of
// transport addresses for a SIP or SIPS URI that RFC 3263 §4 gives, from
// the URI alone when it names an IP address, else from DNS NAPTR (RFC
// 3403), SRV (RFC 2782) and A/AAAA records.
//
// A Locator does the RFC 3263 steps; a Resolver answers its DNS questions.
// The default Resolver is a Cache (TTL-honouring, negative answers kept
// per RFC 2308, bounded in entries, timed by a transport.Clock) in front
// of a Client, which speaks DNS itself with package dnsmsg over UDP, and
// over TCP when an answer is truncated, to the first nameserver of
// /etc/resolv.conf. Tests put a fake Resolver in its place.
//
// Failover (RFC 3263 §4.3) is the caller's: Targets returns the whole
// list, and the caller tries the next Target when sending to one fails
// with a transport error, times out, or is answered 503. Each Target's
// Addr is a transport.Addr; its Domain is the name a TLS certificate must
// match.
//
// A URI whose host (or maddr) is an IP address costs no DNS: Numeric
// resolves it without allocating.
package locate

package transport

import (
	"bytes"
	"net"
	"net/netip"
	"strconv"

	"github.com/sipxfer/sipxfer/sip"
)

// validBranch reports whether b can be written as a branch value: a
// non-empty token (RFC 3261 §20.42, via-branch = "branch" EQUAL token).
func validBranch(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !isTokenChar(c) {
			return false
		}
	}
	return true
}

// isTokenChar reports whether c is a token character (RFC 3261 §25.1).
func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '-', '.', '!', '%', '*', '_', '+', '`', '\'', '~':
		return true
	}
	return false
}

const viaLinePrefix = "Via: SIP/2.0/"

// viaLineLen returns the exact length of the Via line appendWithVia
// writes, so that the 1300-byte rule (RFC 3261 §18.1.1) sees the real size.
func viaLineLen(host []byte, port uint16, branch []byte) int {
	digits := 1
	for p := port; p >= 10; p /= 10 {
		digits++
	}
	// "Via: SIP/2.0/UDP " host ":" port ";branch=" branch ";rport\r\n"
	return len(viaLinePrefix) + 4 + len(host) + 1 + digits + len(";branch=") + len(branch) + len(";rport\r\n")
}

// appendWithVia appends req with the Via line inserted after its request
// line, which ends at req[eol] (RFC 3261 §18.1.1 sent-by; RFC 3581 §3:
// rport without a value).
func appendWithVia(dst, req []byte, eol int, proto Protocol, host []byte, port uint16, branch []byte) []byte {
	dst = append(dst, req[:eol+1]...)
	dst = append(dst, viaLinePrefix...)
	dst = append(dst, proto.String()...)
	dst = append(dst, ' ')
	dst = append(dst, host...)
	dst = append(dst, ':')
	dst = strconv.AppendUint(dst, uint64(port), 10)
	dst = append(dst, ";branch="...)
	dst = append(dst, branch...)
	dst = append(dst, ";rport\r\n"...)
	return append(dst, req[eol+1:]...)
}

// appendHost appends ip as a sent-by host: dotted IPv4, or IPv6 in
// brackets (RFC 3261 §25.1 IPv6reference), without a zone.
func appendHost(dst []byte, ip netip.Addr) []byte {
	ip = ip.Unmap().WithZone("")
	if ip.Is6() {
		dst = append(dst, '[')
		dst = ip.AppendTo(dst)
		return append(dst, ']')
	}
	return ip.AppendTo(dst)
}

// routedSource returns the local address the system would send to dst
// from, found with a connected UDP socket (no packet is sent); fallback if
// that fails.
func routedSource(dst, fallback netip.Addr) netip.Addr {
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(dst, 9)))
	if err != nil {
		return fallback
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap()
}

// wireTopVia parses the first Via value of a message the caller built,
// without modifying it. It reports false when there is none or it does
// not parse.
func wireTopVia(wire []byte, v *sip.Via) bool {
	i := 0
	for i < len(wire) && (wire[i] == '\r' || wire[i] == '\n') {
		i++
	}
	eol := bytes.IndexByte(wire[i:], '\n')
	if eol < 0 {
		return false
	}
	i += eol + 1 // past the start line
	for i < len(wire) {
		eol = bytes.IndexByte(wire[i:], '\n')
		if eol < 0 {
			eol = len(wire) - i
		}
		line := bytes.TrimSuffix(wire[i:i+eol], []byte{'\r'})
		next := i + eol + 1
		if len(line) == 0 {
			return false // end of the header section
		}
		colon := bytes.IndexByte(line, ':')
		if colon > 0 && line[0] != ' ' && line[0] != '\t' &&
			sip.LookupHeader(bytes.TrimRight(line[:colon], " \t")) == sip.HeaderVia {
			value := line[colon+1:]
			if next < len(wire) && (wire[next] == ' ' || wire[next] == '\t') {
				value = unfold(wire[i+colon+1:])
			}
			return v.Parse(firstElement(value)) == nil
		}
		i = next
	}
	return false
}

// unfold copies a header value that continues on folded lines, joining
// them with spaces (RFC 3261 §7.3.1). Rare, so it allocates.
func unfold(b []byte) []byte {
	var out []byte
	for {
		eol := bytes.IndexByte(b, '\n')
		if eol < 0 {
			return append(out, b...)
		}
		out = append(out, bytes.TrimSuffix(b[:eol], []byte{'\r'})...)
		b = b[eol+1:]
		if len(b) == 0 || (b[0] != ' ' && b[0] != '\t') {
			return out
		}
		out = append(out, ' ')
	}
}

// firstElement returns the first element of a comma-separated list value;
// commas inside quoted strings do not count.
func firstElement(v []byte) []byte {
	quoted := false
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case c == ',' && !quoted:
			return v[:i]
		}
	}
	return v
}

// responseDest applies RFC 3261 §18.2.2 and RFC 3581 §4 to the top Via of
// a response when the request's connection, if any, is gone.
func responseDest(rt ReplyTo, v *sip.Via, hasVia bool) (Addr, error) {
	if !hasVia {
		if !rt.Remote.IsValid() {
			return Addr{}, ErrNoRoute
		}
		return rt.Remote, nil
	}
	proto, ok := ParseProtocol(v.Transport)
	if !ok {
		return Addr{}, ErrBadMessage // SCTP or an extension
	}
	received, hasReceived := sip.HostIP(v.Received)
	host, hostIsIP := sip.HostIP(v.Host)
	port := uint16(v.Port)
	fallback := func() (Addr, error) {
		if !rt.Remote.IsValid() {
			return Addr{}, ErrNoRoute
		}
		// RFC 3263 §5 would resolve the name; the source is the best
		// address known without DNS.
		return Addr{Proto: proto, AddrPort: netip.AddrPortFrom(rt.Remote.Addr(), pick(port, rt.Remote.Port()))}, nil
	}
	if proto.Reliable() {
		// RFC 3261 §18.2.2: the connection is gone: open one to "received"
		// using the sent-by port, or the default port for the transport.
		// (RFC 3581 §4 applies rport to unreliable transports only.)
		port = pick(port, proto.DefaultPort())
		switch {
		case hasReceived:
			return Addr{Proto: proto, AddrPort: netip.AddrPortFrom(received, port)}, nil
		case hostIsIP:
			return Addr{Proto: proto, AddrPort: netip.AddrPortFrom(host, port)}, nil
		}
		return fallback()
	}
	if v.Maddr != nil {
		// RFC 3261 §18.2.2: maddr, using the sent-by port or 5060.
		if maddr, ok := sip.HostIP(v.Maddr); ok {
			return Addr{Proto: proto, AddrPort: netip.AddrPortFrom(maddr, pick(port, 5060))}, nil
		}
		return fallback()
	}
	if hasReceived {
		if v.HasRPort && v.RPort != 0 {
			// RFC 3581 §4: "received" and "rport": that address and port.
			return Addr{Proto: proto, AddrPort: netip.AddrPortFrom(received, uint16(v.RPort))}, nil
		}
		// RFC 3261 §18.2.2: "received", using the sent-by port or 5060.
		return Addr{Proto: proto, AddrPort: netip.AddrPortFrom(received, pick(port, 5060))}, nil
	}
	if hostIsIP {
		// RFC 3261 §18.2.2: the address and port in sent-by (RFC 3581 §4
		// uses rport only together with "received").
		return Addr{Proto: proto, AddrPort: netip.AddrPortFrom(host, pick(port, 5060))}, nil
	}
	return fallback()
}

// pick returns port, or def when port is 0.
func pick(port, def uint16) uint16 {
	if port == 0 {
		return def
	}
	return port
}

// stampVia adds "received" and fills "rport" in the top Via of a request,
// in place in f's buffer (RFC 3261 §18.2.1, RFC 3581 §4), and reports
// whether it changed anything; the caller then parses the message again.
// m was parsed from f.buf[f.start:f.end].
func stampVia(m *sip.Message, f *rxFrame, src netip.AddrPort) bool {
	it := m.Values(sip.HeaderVia)
	value, ok := it.Next()
	if !ok {
		return false
	}
	var v sip.Via
	if v.Parse(value) != nil {
		return false
	}
	srcIP := src.Addr().Unmap().WithZone("")

	// RFC 3581 §4: an rport without a value gets the source port.
	var rportName []byte
	for q := v.Params; len(q) > 0; {
		var name, val []byte
		name, val, q = q.Next()
		if len(name) == 5 && equalFoldASCII(name, "rport") {
			if val == nil {
				rportName = name
			}
			break
		}
	}
	// RFC 3261 §18.2.1: received when sent-by is a name or another
	// address; RFC 3581 §4: also, whatever sent-by says, with rport.
	needReceived := v.HasRPort
	if host, isIP := sip.HostIP(v.Host); !isIP || host != srcIP {
		needReceived = true
	}

	var edits [2]edit
	n := 0
	var ipText, recvText [64]byte
	if needReceived {
		ip := srcIP.AppendTo(ipText[:0]) // IPv6address without brackets (§20.42 via-received)
		if old, ok := sip.HostIP(v.Received); v.Received != nil {
			if !ok || old != srcIP {
				edits[n] = edit{pos: f.offset(v.Received), old: len(v.Received), text: ip}
				n++
			}
		} else {
			text := append(recvText[:0], ";received="...)
			text = append(text, ip...)
			edits[n] = edit{pos: f.offset(value) + len(value), text: text}
			n++
		}
	}
	var portText [8]byte
	if rportName != nil {
		text := append(portText[:0], '=')
		text = strconv.AppendUint(text, uint64(src.Port()), 10)
		edits[n] = edit{pos: f.offset(rportName) + len(rportName), text: text}
		n++
	}
	if n == 0 {
		return false
	}
	// Apply the later edit first so that the earlier offset stays valid.
	if n == 2 && edits[1].pos > edits[0].pos {
		edits[0], edits[1] = edits[1], edits[0]
	}
	grow := 0
	for _, e := range edits[:n] {
		if e.pos < f.start || e.pos+e.old > f.end {
			return false // not a view of the buffer: leave it
		}
		grow += len(e.text) - e.old
	}
	if f.tail+grow > len(f.buf) {
		return false
	}
	for _, e := range edits[:n] {
		f.replace(e.pos, e.old, e.text)
	}
	return true
}

// edit replaces old bytes at pos with text.
type edit struct {
	pos, old int
	text     []byte
}

// equalFoldASCII compares b with a lower-case ASCII s, ignoring case.
func equalFoldASCII(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		if b[i]|0x20 != s[i] {
			return false
		}
	}
	return true
}

// isOurSentBy reports whether a response's top Via names this Layer as
// the sender of the request (RFC 3261 §18.1.2): the sent-by port, or the
// transport's default, is the port of one of our listeners or connections,
// and the host is Config.Host or that listener's address (any address if
// the listener is on an unspecified one).
func (l *Layer) isOurSentBy(v *sip.Via, arrived Addr) bool {
	port := uint16(v.Port)
	if port == 0 {
		p, _ := ParseProtocol(v.Transport)
		port = p.DefaultPort()
	}
	hostIP, isIP := sip.HostIP(v.Host)
	isHost := l.cfg.Host != "" && bytes.EqualFold(v.Host, []byte(l.cfg.Host))
	match := func(a Addr) bool {
		if a.Port() != port && (l.cfg.Port == 0 || port != l.cfg.Port) {
			return false
		}
		return isHost || (isIP && (a.Addr().IsUnspecified() || a.Addr().Unmap() == hostIP))
	}
	if match(arrived) {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, u := range l.udps {
		if match(u.addr) {
			return true
		}
	}
	for _, s := range l.streams {
		if match(s.addr) {
			return true
		}
	}
	for _, m := range l.mems {
		if match(m.addr) {
			return true
		}
	}
	for _, c := range l.byID {
		if match(c.local) {
			return true
		}
	}
	return false
}

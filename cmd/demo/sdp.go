// The demo's session descriptions (RFC 4566) and its offer/answer rules
// (RFC 3264). The demo sends and receives no RTP, yet it describes itself
// as a real endpoint does: one PCMU audio stream (payload 0) on an even
// port of its own address, sendrecv. A description that offers no usable
// media (port 9, a=inactive) makes linphone 5.1 ignore a REFER on the call.

package main

import (
	"bytes"
	"net/netip"
	"strconv"
	"sync/atomic"
)

// mediaDesc is what every description of one UA says: its address and
// the RTP port it names (no socket is behind it); and where the sess-ids
// of its sessions come from.
type mediaDesc struct {
	ip   netip.Addr
	port int
	ids  *atomic.Uint64 // the next sess-id
}

// newMediaDesc is the description of a UA listening on ip:sipPort, its
// first session's sess-id firstID. The RTP port is even (RFC 3550 §11)
// and derived from the SIP port, so two demo processes name different ones.
func newMediaDesc(ip netip.Addr, sipPort uint16, firstID uint64) mediaDesc {
	d := mediaDesc{ip: ip.Unmap(), port: 20000 + 2*(int(sipPort)%10000), ids: new(atomic.Uint64)}
	d.ids.Store(firstID)
	return d
}

// newSession returns a sess-id no other session of this UA has: RFC 4566
// §5.2 makes the o= fields a globally unique identifier of the session.
func (d mediaDesc) newSession() uint64 { return d.ids.Add(1) - 1 }

// build returns the description of session sessID with sess-version
// version, the audio stream on port (0: rejected, RFC 3264 §6) and
// direction dir.
func (d mediaDesc) build(sessID, version uint64, port int, dir string) []byte {
	family := "IP4"
	if d.ip.Is6() {
		family = "IP6"
	}
	addr := d.ip.String()
	b := make([]byte, 0, 160)
	b = append(b, "v=0\r\no=- "...)
	b = strconv.AppendUint(b, sessID, 10)
	b = append(b, ' ')
	b = strconv.AppendUint(b, version, 10)
	b = append(b, " IN "+family+" "+addr+"\r\ns=-\r\nc=IN "+family+" "+addr+"\r\nt=0 0\r\nm=audio "...)
	b = strconv.AppendInt(b, int64(port), 10)
	b = append(b, " RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na="+dir+"\r\n"...)
	return b
}

// offer is the initial offer of a new session: version 1, sendrecv.
func (d mediaDesc) offer() []byte { return d.build(d.newSession(), 1, d.port, "sendrecv") }

// answer returns the answer to the session description offer. prev is
// this side's last description in the session (nil for the first answer,
// which starts a session of ours): RFC 3264 §8 keeps its sess-version when nothing changes and increments
// it otherwise. The direction mirrors the offer's (§6.1: sendonly gets
// recvonly, recvonly sendonly, inactive inactive); an offer whose audio
// stream is refused (port 0) or has no PCMU gets port 0 back (§6).
func (d mediaDesc) answer(prev, offer []byte) []byte {
	s := parseSDP(offer)
	port := d.port
	if !s.audio || s.port == 0 || !s.pcmu {
		port = 0
	}
	return d.next(prev, port, answerDirection(s.dir))
}

// reoffer returns a new offer in the session whose last description of
// this side is prev, with direction dir (RFC 3264 §8: sess-version one
// more than prev's when it changes; §8.4: sendonly puts the call on hold).
func (d mediaDesc) reoffer(prev []byte, dir string) []byte {
	return d.next(prev, d.port, dir)
}

// next is the description after prev in prev's session with port and dir,
// its version prev's if nothing else differs and one more if something
// does; without prev (or an o= line in it) the first of a new session.
func (d mediaDesc) next(prev []byte, port int, dir string) []byte {
	id, v, ok := origin(prev)
	if !ok {
		return d.build(d.newSession(), 1, port, dir)
	}
	if same := d.build(id, v, port, dir); bytes.Equal(same, prev) {
		return same
	}
	return d.build(id, v+1, port, dir)
}

// answerDirection is the direction that answers offered direction dir
// (RFC 3264 §6.1).
func answerDirection(dir string) string {
	switch dir {
	case "sendonly":
		return "recvonly"
	case "recvonly":
		return "sendonly"
	case "inactive":
		return "inactive"
	}
	return "sendrecv"
}

// sdpSummary is what the demo reads of a session description: its first
// audio stream's port (other streams are not answered: the demo is for
// peers that offer audio alone), whether it offers PCMU (payload 0) and its
// direction.
type sdpSummary struct {
	audio bool
	port  int
	pcmu  bool
	dir   string // sendrecv, sendonly, recvonly or inactive
}

// parseSDP reads body as a session description (RFC 4566 §5). Without an
// audio m-line audio is false. A direction attribute of the stream
// overrides one at session level; with none it is sendrecv (RFC 3264 §5.1).
func parseSDP(body []byte) sdpSummary {
	s := sdpSummary{dir: "sendrecv"}
	section := 0 // 0: session level, 1: the audio stream, 2: another
	for len(body) > 0 {
		var line []byte
		line, body, _ = bytes.Cut(body, []byte("\n"))
		line = bytes.TrimSuffix(line, []byte("\r"))
		switch {
		case bytes.HasPrefix(line, []byte("m=")):
			// m=<media> <port>[/<count>] <proto> <fmt> ...
			f := bytes.Fields(line[2:])
			if s.audio || len(f) < 4 || string(f[0]) != "audio" {
				section = 2
				continue
			}
			section = 1
			s.audio = true
			port, _, _ := bytes.Cut(f[1], []byte("/"))
			if n, err := strconv.Atoi(string(port)); err == nil && n >= 0 && n <= 65535 {
				s.port = n
			}
			for _, pt := range f[3:] {
				if string(pt) == "0" {
					s.pcmu = true
				}
			}
		case bytes.HasPrefix(line, []byte("a=")) && section != 2:
			switch a := string(line[2:]); a {
			case "sendrecv", "sendonly", "recvonly", "inactive":
				s.dir = a
			}
		}
	}
	return s
}

// origin returns the sess-id and sess-version of the o= line of body (RFC
// 4566 §5.2: o=<username> <sess-id> <sess-version> <nettype> <addrtype>
// <addr>).
func origin(body []byte) (id, version uint64, ok bool) {
	for len(body) > 0 {
		var line []byte
		line, body, _ = bytes.Cut(body, []byte("\n"))
		if !bytes.HasPrefix(line, []byte("o=")) {
			continue
		}
		f := bytes.Fields(line[2:])
		if len(f) < 3 {
			return 0, 0, false
		}
		id, err1 := strconv.ParseUint(string(f[1]), 10, 64)
		version, err2 := strconv.ParseUint(string(f[2]), 10, 64)
		return id, version, err1 == nil && err2 == nil
	}
	return 0, 0, false
}

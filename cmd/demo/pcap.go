// The -pcap writer (PcapWriter): every message of a run as a libpcap
// capture with IPv4/IPv6 and UDP headers, and tracers, which fans one
// trace out to several tracers.

package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net/netip"
	"sync"
	"time"

	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transport"
)

// A PcapWriter records the messages of a run as a classic libpcap capture
// file, for Wireshark or tshark to show. It implements transport.Tracer;
// attach one PcapWriter to every layer of the run (see tracers), and call
// Flush at the end. It is safe for concurrent use.
//
// A message between two of our layers is traced twice, sent by one and
// received by the other, and recorded once, in the order and at the time
// of its first trace, with the bytes its sender wrote. The first trace is
// not always the send: a socket traces a send after its write returns, and
// by then the receiver may have traced the message and even its answer
// (see transport.Tracer). Such a record waits for its sender's trace, and
// the records after it wait behind it, so that no answer comes before its
// request. A message from a peer whose layer traces nothing is recorded as
// received, with the received and rport the receiver added to the top Via
// (RFC 3581 §4), when Flush finds it still waiting.
//
// Every message becomes one IP packet carrying one UDP datagram with the
// real addresses and ports. Messages carried over TCP or TLS are written as
// UDP datagrams too: the file records the SIP conversation, in clear text,
// not the bytes on the wire (no TCP segments, no TLS records).
//
// The link type is LINKTYPE_RAW (101): each record starts with an IPv4 or
// an IPv6 header, the version in its first nibble telling which, so one file
// holds both families with no made-up Ethernet header. The IPv4 header and
// UDP checksums are computed, as IPv6 requires of UDP.
//
// What Wireshark makes of it, checked with TShark 4.0.17: the SIP dissector
// is bound to UDP port 5060 only, but its UDP heuristic, sip_udp, is enabled
// by default ("udp sip T" in `tshark -G heuristic-decodes`) and takes any
// datagram that starts with a SIP request or status line, so `tshark -r
// demo.pcap` shows every message as SIP on any port, IPv4 or IPv6, without
// "-d udp.port==5062,sip". With `--disable-heuristic sip_udp` only port 5060
// is SIP. Checksum validation is off by default; with `-o
// ip.check_checksum:TRUE -o udp.check_checksum:TRUE` every checksum here
// reads Good. The sipfrag body of a NOTIFY shows as "SIP/sipfrag".
//
// A PcapWriter keeps what it needs to pair the two traces of a message for
// the whole run: it is made for a demo's run, not a long-lived server.
type PcapWriter struct {
	mu      sync.Mutex
	w       io.Writer
	now     func() time.Time
	queue   []*pcapRecord             // in order of first trace; not yet written
	waiting map[pcapKey][]*pcapRecord // records whose other trace may come, oldest first
	ipID    uint16                    // IPv4 Identification, counted per packet
	buf     []byte                    // one record, reused
	err     error                     // the first write error; nothing is written after it
	count   int

	copy []byte // the traced message, copied: Parse may rewrite line folds
	msg  sip.Message
	id   []byte
}

// A pcapRecord is one message to record.
type pcapRecord struct {
	time     time.Time // of its first trace
	src, dst netip.AddrPort
	msg      []byte
	sent     bool // msg is what the sender wrote: ready to be written
}

// pcapKey identifies a message and its retransmissions between two
// addresses, whichever end traces it.
type pcapKey struct {
	src, dst netip.AddrPort
	id       string // see messageID
}

// pcap file format constants (https://www.tcpdump.org/manpages/pcap-savefile.5.html,
// https://www.tcpdump.org/linktypes.html).
const (
	pcapMagic        = 0xa1b2c3d4 // microsecond timestamps; written little-endian
	pcapVersionMajor = 2
	pcapVersionMinor = 4
	pcapSnapLen      = 65535
	linkTypeRaw      = 101 // raw IPv4 or IPv6, no link-layer header

	ipv4HeaderLen = 20
	ipv6HeaderLen = 40
	udpHeaderLen  = 8
	protoUDP      = 17
	hopLimit      = 64
)

// NewPcapWriter writes the pcap file header to w and returns a PcapWriter
// that appends one record per message, stamped with now(). A nil now means
// time.Now. The caller calls Flush, then closes w, after the run.
func NewPcapWriter(w io.Writer, now func() time.Time) (*PcapWriter, error) {
	if now == nil {
		now = time.Now
	}
	var h [24]byte
	le := binary.LittleEndian
	le.PutUint32(h[0:], pcapMagic)
	le.PutUint16(h[4:], pcapVersionMajor)
	le.PutUint16(h[6:], pcapVersionMinor)
	// h[8:16]: thiszone and sigfigs, always 0.
	le.PutUint32(h[16:], pcapSnapLen)
	le.PutUint32(h[20:], linkTypeRaw)
	if _, err := w.Write(h[:]); err != nil {
		return nil, fmt.Errorf("pcap: %w", err)
	}
	return &PcapWriter{w: w, now: now, waiting: map[pcapKey][]*pcapRecord{}}, nil
}

// TraceMessage records t's message, or pairs t with the trace that
// recorded it; see PcapWriter.
func (p *PcapWriter) TraceMessage(t *transport.Trace) {
	p.mu.Lock()
	defer p.mu.Unlock()
	src, dst := addrKey(t.Local), addrKey(t.Remote)
	if !t.Sent {
		src, dst = dst, src
	}
	p.copy = append(p.copy[:0], t.Msg...)
	if err := sip.Parse(&p.msg, p.copy); err == nil {
		p.id = messageID(p.id[:0], &p.msg)
	} else {
		p.id = append(p.id[:0], t.Msg...)
	}

	key := pcapKey{src, dst, string(p.id)}
	if w := p.waiting[key]; len(w) > 0 && w[0].sent != t.Sent {
		// The other trace of a recorded message.
		r := w[0]
		if len(w) == 1 {
			delete(p.waiting, key)
		} else {
			p.waiting[key] = w[1:]
		}
		if t.Sent && !r.sent {
			r.msg, r.sent = bytes.Clone(t.Msg), true
		}
	} else {
		r := &pcapRecord{time: p.now(), src: src, dst: dst, msg: bytes.Clone(t.Msg), sent: t.Sent}
		p.queue = append(p.queue, r)
		p.waiting[key] = append(w, r)
	}
	p.writeQueue(false)
}

// Flush writes the records still waiting for their sender's trace, as they
// were received, and returns the first error met while writing, if any.
func (p *PcapWriter) Flush() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.writeQueue(true)
	return p.err
}

// Err returns the first error met while writing, if any; a PcapWriter stops
// writing at the first error, since a record cut short corrupts the file.
func (p *PcapWriter) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// Count returns the number of packets written.
func (p *PcapWriter) Count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.count
}

// writeQueue writes the records at the head of the queue that have their
// sender's bytes, or all of them if all is set.
func (p *PcapWriter) writeQueue(all bool) {
	for len(p.queue) > 0 && (all || p.queue[0].sent) {
		r := p.queue[0]
		p.queue[0], p.queue = nil, p.queue[1:]
		if p.err == nil {
			p.err = p.writePacket(r.time, r.src, r.dst, r.msg)
		}
		r.msg = nil // kept, if at all, only to pair its other trace
	}
}

// writePacket writes one record: the record header, an IP header, a UDP
// header and the payload, in a single Write so that a crash leaves whole
// records behind. A payload too large for one datagram is left out.
func (p *PcapWriter) writePacket(ts time.Time, src, dst netip.AddrPort, payload []byte) error {
	srcIP, dstIP := src.Addr().Unmap(), dst.Addr().Unmap()
	v4 := srcIP.Is4() && dstIP.Is4()
	ipLen := ipv6HeaderLen
	if v4 {
		ipLen = ipv4HeaderLen
	}
	udpLen := udpHeaderLen + len(payload)
	if ipLen+udpLen > pcapSnapLen {
		// A record holds at most the snapshot length, 65,535 bytes, as
		// IPv4's Total Length does: no UDP message is longer, and a
		// longer one over TCP is left out.
		return nil
	}

	b := p.buf[:0]
	le := binary.LittleEndian
	b = le.AppendUint32(b, uint32(ts.Unix()))
	b = le.AppendUint32(b, uint32(ts.Nanosecond()/1000))
	b = le.AppendUint32(b, uint32(ipLen+udpLen)) // captured length
	b = le.AppendUint32(b, uint32(ipLen+udpLen)) // original length

	if v4 {
		p.ipID++
		b = appendIPv4Header(b, srcIP, dstIP, p.ipID, udpLen)
	} else {
		b = appendIPv6Header(b, srcIP, dstIP, udpLen)
	}
	udp := len(b)
	be := binary.BigEndian
	b = be.AppendUint16(b, src.Port())
	b = be.AppendUint16(b, dst.Port())
	b = be.AppendUint16(b, uint16(udpLen))
	b = be.AppendUint16(b, 0) // checksum, filled in below
	b = append(b, payload...)
	sum := udpChecksum(srcIP, dstIP, b[udp:])
	be.PutUint16(b[udp+6:], sum)

	p.buf = b
	if _, err := p.w.Write(b); err != nil {
		return fmt.Errorf("pcap: %w", err)
	}
	p.count++
	return nil
}

// appendIPv4Header appends an RFC 791 header without options.
func appendIPv4Header(b []byte, src, dst netip.Addr, id uint16, udpLen int) []byte {
	be := binary.BigEndian
	h := len(b)
	b = append(b, 0x45, 0) // version 4, IHL 5 words; DSCP/ECN 0
	b = be.AppendUint16(b, uint16(ipv4HeaderLen+udpLen))
	b = be.AppendUint16(b, id)
	b = be.AppendUint16(b, 0x4000) // Don't Fragment, offset 0
	b = append(b, hopLimit, protoUDP)
	b = be.AppendUint16(b, 0) // header checksum, filled in below
	s4, d4 := src.As4(), dst.As4()
	b = append(b, s4[:]...)
	b = append(b, d4[:]...)
	be.PutUint16(b[h+10:], ^uint16(onesSum(0, b[h:h+ipv4HeaderLen])))
	return b
}

// appendIPv6Header appends an RFC 8200 header with no extension headers.
// IPv4 addresses (a message between families cannot happen) would be
// written IPv4-mapped.
func appendIPv6Header(b []byte, src, dst netip.Addr, udpLen int) []byte {
	b = append(b, 0x60, 0, 0, 0) // version 6, traffic class 0, flow label 0
	b = binary.BigEndian.AppendUint16(b, uint16(udpLen))
	b = append(b, protoUDP, hopLimit)
	s16, d16 := src.As16(), dst.As16()
	b = append(b, s16[:]...)
	return append(b, d16[:]...)
}

// udpChecksum computes the UDP checksum over the pseudo-header and the
// datagram (RFC 768; RFC 8200 §8.1 for IPv6, where it is mandatory).
// IPv4 allows 0 for "no checksum", but a real one costs little and lets
// Wireshark's validation pass if a reader turns it on.
func udpChecksum(src, dst netip.Addr, datagram []byte) uint16 {
	sum := uint32(protoUDP) + uint32(len(datagram))
	if src.Is4() && dst.Is4() {
		s, d := src.As4(), dst.As4()
		sum = onesSum(sum, s[:])
		sum = onesSum(sum, d[:])
	} else {
		s, d := src.As16(), dst.As16()
		sum = onesSum(sum, s[:])
		sum = onesSum(sum, d[:])
	}
	c := ^uint16(onesSum(sum, datagram))
	if c == 0 {
		return 0xffff // RFC 768: a computed 0 is sent as all ones
	}
	return c
}

// onesSum adds b, as big-endian 16-bit words padded with a zero byte, to sum
// in ones' complement arithmetic (RFC 1071) and returns it folded to 16 bits.
func onesSum(sum uint32, b []byte) uint32 {
	for len(b) >= 2 {
		sum += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return sum
}

// tracers hands each trace to several Tracers in turn, for a layer that
// feeds both a Ladder and a PcapWriter: Config.Tracer = tracers{ladder, pcap}.
type tracers []transport.Tracer

// TraceMessage calls TraceMessage of each Tracer.
func (ts tracers) TraceMessage(t *transport.Trace) {
	for _, tr := range ts {
		tr.TraceMessage(t)
	}
}

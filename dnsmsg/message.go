package dnsmsg

import (
	"encoding/binary"
	"net/netip"
	"strconv"
)

// Limits on what Decode accepts, so that hostile input costs bounded
// memory: at most MaxRecords records of at most 255-octet names each.
const (
	// MaxMessageSize is the largest message: what a TCP length prefix can
	// say (RFC 1035 §4.2.2).
	MaxMessageSize = 65535
	// MaxRecords bounds the questions and records of all sections taken
	// together. A SIP server's NAPTR, SRV and address records number a
	// handful; a response with more is refused rather than decoded.
	MaxRecords = 512
)

// Type is a resource record type (RFC 1035 §3.2.2).
type Type uint16

// Record types this package decodes into fields; others keep their RDATA.
const (
	TypeA     Type = 1  // RFC 1035 §3.4.1
	TypeNS    Type = 2  // RFC 1035 §3.3.11
	TypeCNAME Type = 5  // RFC 1035 §3.3.1
	TypeSOA   Type = 6  // RFC 1035 §3.3.13
	TypePTR   Type = 12 // RFC 1035 §3.3.12
	TypeAAAA  Type = 28 // RFC 3596 §2.1
	TypeSRV   Type = 33 // RFC 2782
	TypeNAPTR Type = 35 // RFC 3403 §4.1
	TypeOPT   Type = 41 // RFC 6891 §6.1
)

// String returns the type's mnemonic, or "TYPEn" (RFC 3597 §5).
func (t Type) String() string {
	switch t {
	case TypeA:
		return "A"
	case TypeNS:
		return "NS"
	case TypeCNAME:
		return "CNAME"
	case TypeSOA:
		return "SOA"
	case TypePTR:
		return "PTR"
	case TypeAAAA:
		return "AAAA"
	case TypeSRV:
		return "SRV"
	case TypeNAPTR:
		return "NAPTR"
	case TypeOPT:
		return "OPT"
	}
	return "TYPE" + strconv.Itoa(int(t))
}

// Class is a resource record class (RFC 1035 §3.2.4).
type Class uint16

// ClassINET is the Internet class, the only one a SIP client asks about.
const ClassINET Class = 1

// RCode is a response code (RFC 1035 §4.1.1).
type RCode uint8

// Response codes.
const (
	RCodeSuccess        RCode = 0 // no error
	RCodeFormatError    RCode = 1 // the server could not interpret the query
	RCodeServerFailure  RCode = 2 // SERVFAIL
	RCodeNameError      RCode = 3 // NXDOMAIN: the name does not exist
	RCodeNotImplemented RCode = 4
	RCodeRefused        RCode = 5
)

// String returns the code's mnemonic (RFC 6895 §2.3), or "RCODEn".
func (r RCode) String() string {
	switch r {
	case RCodeSuccess:
		return "NOERROR"
	case RCodeFormatError:
		return "FORMERR"
	case RCodeServerFailure:
		return "SERVFAIL"
	case RCodeNameError:
		return "NXDOMAIN"
	case RCodeNotImplemented:
		return "NOTIMP"
	case RCodeRefused:
		return "REFUSED"
	}
	return "RCODE" + strconv.Itoa(int(r))
}

// Header is a message header (RFC 1035 §4.1.1), less the section counts,
// which Append computes from the sections and Decode checks against them.
type Header struct {
	ID                 uint16
	Response           bool  // QR
	Opcode             uint8 // 0: standard query
	Authoritative      bool  // AA
	Truncated          bool  // TC: the answer did not fit; ask again over TCP
	RecursionDesired   bool  // RD
	RecursionAvailable bool  // RA
	RCode              RCode // the low four bits only (no EDNS extension)
}

// Question is an entry of the question section (RFC 1035 §4.1.2).
type Question struct {
	Name  string // presentation form, fully qualified
	Type  Type
	Class Class
}

// SRV is the RDATA of an SRV record (RFC 2782).
type SRV struct {
	Priority uint16
	Weight   uint16
	Port     uint16
	Target   string // "." means the service is not offered at this name
}

// NAPTR is the RDATA of a NAPTR record (RFC 3403 §4.1).
type NAPTR struct {
	Order       uint16
	Preference  uint16
	Flags       string // character-string, e.g. "s"
	Services    string // character-string, e.g. "SIP+D2U"
	Regexp      string // character-string, empty when Replacement is used
	Replacement string // a domain name; "." when Regexp is used
}

// SOA is the RDATA of an SOA record (RFC 1035 §3.3.13); a negative answer
// carries one in its authority section, whose Minimum and TTL bound how
// long the answer may be cached (RFC 2308 §5).
type SOA struct {
	MName   string
	RName   string
	Serial  uint32
	Refresh uint32
	Retry   uint32
	Expire  uint32
	Minimum uint32
}

// RR is a resource record (RFC 1035 §4.1.3). Which data field is used
// depends on Type: Addr for A and AAAA, Host for CNAME, NS and PTR, SRV,
// NAPTR and SOA for theirs, Data (the RDATA as it came) for any other.
type RR struct {
	Name  string // owner name, presentation form, fully qualified
	Type  Type
	Class Class
	TTL   uint32 // seconds

	Addr  netip.Addr
	Host  string
	SRV   SRV
	NAPTR NAPTR
	SOA   SOA
	Data  []byte
}

// Message is a DNS message (RFC 1035 §4.1).
type Message struct {
	Header
	Questions  []Question
	Answers    []RR
	Authority  []RR
	Additional []RR
}

// headerLen is the fixed header's size (RFC 1035 §4.1.1).
const headerLen = 12

// flags packs the second and third octets of the header.
func (h *Header) flags() uint16 {
	f := uint16(h.Opcode&0xF)<<11 | uint16(h.RCode&0xF)
	if h.Response {
		f |= 1 << 15
	}
	if h.Authoritative {
		f |= 1 << 10
	}
	if h.Truncated {
		f |= 1 << 9
	}
	if h.RecursionDesired {
		f |= 1 << 8
	}
	if h.RecursionAvailable {
		f |= 1 << 7
	}
	return f
}

func (h *Header) setFlags(f uint16) {
	h.Response = f&(1<<15) != 0
	h.Opcode = uint8(f>>11) & 0xF
	h.Authoritative = f&(1<<10) != 0
	h.Truncated = f&(1<<9) != 0
	h.RecursionDesired = f&(1<<8) != 0
	h.RecursionAvailable = f&(1<<7) != 0
	h.RCode = RCode(f & 0xF)
}

// AppendQuery appends a standard query for name and type t in class IN,
// with the given ID and the RD (recursion desired) flag as asked.
func AppendQuery(dst []byte, id uint16, name string, t Type, rd bool) ([]byte, error) {
	m := Message{
		Header:    Header{ID: id, RecursionDesired: rd},
		Questions: []Question{{Name: name, Type: t, Class: ClassINET}},
	}
	return m.Append(dst)
}

// Append appends m in wire form to dst, names uncompressed (RFC 1035
// §4.1.4 makes compression optional for the sender). On error dst is
// returned unchanged.
func (m *Message) Append(dst []byte) ([]byte, error) {
	begin := len(dst)
	counts := [4]int{len(m.Questions), len(m.Answers), len(m.Authority), len(m.Additional)}
	if counts[0]+counts[1]+counts[2]+counts[3] > MaxRecords {
		return dst, encodeError(ErrTooLarge, "more than MaxRecords records")
	}
	dst = binary.BigEndian.AppendUint16(dst, m.ID)
	dst = binary.BigEndian.AppendUint16(dst, m.flags())
	for _, n := range counts {
		dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	}
	var err error
	for _, q := range m.Questions {
		if dst, err = appendName(dst, q.Name); err != nil {
			return dst[:begin], err
		}
		dst = binary.BigEndian.AppendUint16(dst, uint16(q.Type))
		dst = binary.BigEndian.AppendUint16(dst, uint16(q.Class))
	}
	for _, section := range [...][]RR{m.Answers, m.Authority, m.Additional} {
		for i := range section {
			if dst, err = appendRR(dst, &section[i]); err != nil {
				return dst[:begin], err
			}
		}
	}
	if len(dst)-begin > MaxMessageSize {
		return dst[:begin], encodeError(ErrTooLarge, "message longer than 65535 octets")
	}
	return dst, nil
}

// appendRR appends one resource record.
func appendRR(dst []byte, rr *RR) ([]byte, error) {
	dst, err := appendName(dst, rr.Name)
	if err != nil {
		return dst, err
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(rr.Type))
	dst = binary.BigEndian.AppendUint16(dst, uint16(rr.Class))
	dst = binary.BigEndian.AppendUint32(dst, rr.TTL)
	lenAt := len(dst)
	dst = append(dst, 0, 0)
	if dst, err = appendRData(dst, rr); err != nil {
		return dst, err
	}
	n := len(dst) - lenAt - 2
	if n > 0xFFFF {
		return dst, encodeError(ErrRecord, "RDATA longer than 65535 octets")
	}
	binary.BigEndian.PutUint16(dst[lenAt:], uint16(n))
	return dst, nil
}

// Decode parses msg into m, replacing its contents. Names and strings are
// copied, so m does not keep msg. Besides RFC 1035's rules it enforces
// MaxMessageSize and MaxRecords, and rejects bytes after the last record.
func (m *Message) Decode(msg []byte) error {
	*m = Message{}
	if len(msg) > MaxMessageSize {
		return &Error{Err: ErrTooLarge, Offset: MaxMessageSize, Reason: "message longer than 65535 octets"}
	}
	if len(msg) < headerLen {
		return malformed(len(msg), "message shorter than its header")
	}
	m.ID = binary.BigEndian.Uint16(msg)
	m.setFlags(binary.BigEndian.Uint16(msg[2:]))
	var counts [4]int
	total := 0
	for i := range counts {
		counts[i] = int(binary.BigEndian.Uint16(msg[4+2*i:]))
		total += counts[i]
	}
	if total > MaxRecords {
		return &Error{Err: ErrTooLarge, Offset: 4, Reason: "more than MaxRecords records"}
	}
	// A question takes at least 5 octets and a record 11: counts the
	// message cannot hold are refused before anything is allocated for them.
	if least := headerLen + 5*counts[0] + 11*(counts[1]+counts[2]+counts[3]); least > len(msg) {
		return malformed(4, "section counts exceed the message")
	}
	off := headerLen
	var buf []byte // scratch for names, reused
	var err error
	if counts[0] > 0 {
		m.Questions = make([]Question, counts[0])
	}
	for i := range m.Questions {
		q := &m.Questions[i]
		if buf, off, err = readName(msg, off, buf[:0]); err != nil {
			return err
		}
		if off+4 > len(msg) {
			return malformed(off, "question runs past the end")
		}
		q.Name = string(buf)
		q.Type = Type(binary.BigEndian.Uint16(msg[off:]))
		q.Class = Class(binary.BigEndian.Uint16(msg[off+2:]))
		off += 4
	}
	for s, section := range [...]*[]RR{&m.Answers, &m.Authority, &m.Additional} {
		n := counts[s+1]
		if n == 0 {
			continue
		}
		*section = make([]RR, n)
		for i := range *section {
			if off, buf, err = decodeRR(msg, off, &(*section)[i], buf); err != nil {
				return err
			}
		}
	}
	if off != len(msg) {
		return malformed(off, "bytes after the last record")
	}
	return nil
}

// decodeRR parses the record at msg[off:] into rr and returns the offset
// past it.
func decodeRR(msg []byte, off int, rr *RR, buf []byte) (int, []byte, error) {
	var err error
	if buf, off, err = readName(msg, off, buf[:0]); err != nil {
		return 0, buf, err
	}
	if off+10 > len(msg) {
		return 0, buf, malformed(off, "record runs past the end")
	}
	rr.Name = string(buf)
	rr.Type = Type(binary.BigEndian.Uint16(msg[off:]))
	rr.Class = Class(binary.BigEndian.Uint16(msg[off+2:]))
	rr.TTL = binary.BigEndian.Uint32(msg[off+4:])
	// RFC 2181 §8: a TTL with the top bit set is taken as zero.
	if rr.TTL > 1<<31-1 {
		rr.TTL = 0
	}
	n := int(binary.BigEndian.Uint16(msg[off+8:]))
	off += 10
	if off+n > len(msg) {
		return 0, buf, malformed(off-2, "RDATA runs past the end")
	}
	if buf, err = decodeRData(msg, off, off+n, rr, buf); err != nil {
		return 0, buf, err
	}
	return off + n, buf, nil
}

package dnsmsg

import (
	"encoding/binary"
	"net/netip"
)

// decodeRData parses the RDATA at msg[off:end] into rr's field for its
// type. Names inside RDATA may use compression pointers into the whole
// message (RFC 1035 §4.1.4; RFC 2782 and RFC 3403 ask senders not to, but
// a lenient reader loses nothing), yet must end inside the RDATA, and the
// fields must fill it exactly.
func decodeRData(msg []byte, off, end int, rr *RR, buf []byte) ([]byte, error) {
	rdata := msg[off:end]
	var err error
	switch rr.Type {
	case TypeA:
		if len(rdata) != 4 {
			return buf, malformed(off, "A record RDATA is not 4 octets")
		}
		rr.Addr = netip.AddrFrom4([4]byte(rdata))
		return buf, nil
	case TypeAAAA:
		if len(rdata) != 16 {
			return buf, malformed(off, "AAAA record RDATA is not 16 octets")
		}
		rr.Addr = netip.AddrFrom16([16]byte(rdata))
		return buf, nil
	case TypeCNAME, TypeNS, TypePTR:
		var p int
		if buf, p, err = readName(msg[:end], off, buf[:0]); err != nil {
			return buf, err
		}
		rr.Host = string(buf)
		return buf, fills(p, end)
	case TypeSRV:
		if len(rdata) < 7 {
			return buf, malformed(off, "SRV record RDATA too short")
		}
		rr.SRV.Priority = binary.BigEndian.Uint16(rdata)
		rr.SRV.Weight = binary.BigEndian.Uint16(rdata[2:])
		rr.SRV.Port = binary.BigEndian.Uint16(rdata[4:])
		var p int
		if buf, p, err = readName(msg[:end], off+6, buf[:0]); err != nil {
			return buf, err
		}
		rr.SRV.Target = string(buf)
		return buf, fills(p, end)
	case TypeNAPTR:
		if len(rdata) < 4 {
			return buf, malformed(off, "NAPTR record RDATA too short")
		}
		n := &rr.NAPTR
		n.Order = binary.BigEndian.Uint16(rdata)
		n.Preference = binary.BigEndian.Uint16(rdata[2:])
		p := off + 4
		for _, s := range [...]*string{&n.Flags, &n.Services, &n.Regexp} {
			if *s, p, err = readString(msg[:end], p); err != nil {
				return buf, err
			}
		}
		if buf, p, err = readName(msg[:end], p, buf[:0]); err != nil {
			return buf, err
		}
		n.Replacement = string(buf)
		return buf, fills(p, end)
	case TypeSOA:
		s := &rr.SOA
		var p int
		if buf, p, err = readName(msg[:end], off, buf[:0]); err != nil {
			return buf, err
		}
		s.MName = string(buf)
		if buf, p, err = readName(msg[:end], p, buf[:0]); err != nil {
			return buf, err
		}
		s.RName = string(buf)
		if end-p != 20 {
			return buf, malformed(p, "SOA record RDATA has a bad length")
		}
		for i, v := range [...]*uint32{&s.Serial, &s.Refresh, &s.Retry, &s.Expire, &s.Minimum} {
			*v = binary.BigEndian.Uint32(msg[p+4*i:])
		}
		return buf, nil
	}
	if len(rdata) > 0 {
		rr.Data = append([]byte(nil), rdata...)
	}
	return buf, nil
}

// fills reports an error unless the fields ended exactly at the RDATA's end.
func fills(p, end int) error {
	if p != end {
		return malformed(p, "RDATA longer than its fields")
	}
	return nil
}

// readString reads a character-string (RFC 1035 §3.3): a length octet and
// that many octets.
func readString(msg []byte, off int) (string, int, error) {
	if off >= len(msg) {
		return "", 0, malformed(off, "character-string runs past the RDATA")
	}
	n := int(msg[off])
	if off+1+n > len(msg) {
		return "", 0, malformed(off, "character-string runs past the RDATA")
	}
	return string(msg[off+1 : off+1+n]), off + 1 + n, nil
}

// appendString appends a character-string.
func appendString(dst []byte, s string) ([]byte, error) {
	if len(s) > 255 {
		return dst, encodeError(ErrRecord, "character-string longer than 255 octets")
	}
	return append(append(dst, byte(len(s))), s...), nil
}

// appendRData appends rr's RDATA for its type.
func appendRData(dst []byte, rr *RR) ([]byte, error) {
	var err error
	switch rr.Type {
	case TypeA:
		if !rr.Addr.Is4() {
			return dst, encodeError(ErrRecord, "A record without an IPv4 address")
		}
		a := rr.Addr.As4()
		return append(dst, a[:]...), nil
	case TypeAAAA:
		if !rr.Addr.IsValid() {
			return dst, encodeError(ErrRecord, "AAAA record without an address")
		}
		a := rr.Addr.As16()
		return append(dst, a[:]...), nil
	case TypeCNAME, TypeNS, TypePTR:
		return appendName(dst, rr.Host)
	case TypeSRV:
		dst = binary.BigEndian.AppendUint16(dst, rr.SRV.Priority)
		dst = binary.BigEndian.AppendUint16(dst, rr.SRV.Weight)
		dst = binary.BigEndian.AppendUint16(dst, rr.SRV.Port)
		return appendName(dst, rr.SRV.Target)
	case TypeNAPTR:
		n := &rr.NAPTR
		dst = binary.BigEndian.AppendUint16(dst, n.Order)
		dst = binary.BigEndian.AppendUint16(dst, n.Preference)
		for _, s := range [...]string{n.Flags, n.Services, n.Regexp} {
			if dst, err = appendString(dst, s); err != nil {
				return dst, err
			}
		}
		return appendName(dst, n.Replacement)
	case TypeSOA:
		s := &rr.SOA
		if dst, err = appendName(dst, s.MName); err != nil {
			return dst, err
		}
		if dst, err = appendName(dst, s.RName); err != nil {
			return dst, err
		}
		for _, v := range [...]uint32{s.Serial, s.Refresh, s.Retry, s.Expire, s.Minimum} {
			dst = binary.BigEndian.AppendUint32(dst, v)
		}
		return dst, nil
	}
	return append(dst, rr.Data...), nil
}

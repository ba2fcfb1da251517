package dnsmsg

// Domain names travel as a sequence of labels, each a length octet and that
// many octets, ending with the zero-length root label; a label octet whose
// top two bits are set starts a two-octet pointer to a prior occurrence of
// the rest of the name (RFC 1035 §3.1, §4.1.4).
//
// In this package a name is text in RFC 1035 §5.1 presentation form: labels
// separated by '.', fully qualified with a trailing '.', the root being ".".
// A '.' or '\' inside a label is escaped as "\." and "\\"; an octet outside
// printable ASCII as "\DDD" (three decimal digits).

const (
	// maxNameWire is the longest name on the wire, length octets included
	// (RFC 1035 §3.1: 255 octets or less).
	maxNameWire = 255
	// maxLabel is the longest label (RFC 1035 §2.3.4: 63 octets or less).
	maxLabel = 63
)

// readName decodes the name at msg[off:] into text appended to buf and
// returns it with the offset just past the name where it started (past its
// first pointer, if any). Pointers must point strictly before the run of
// labels that holds them, so every jump goes backwards and a loop cannot be
// built; the name's wire length is bounded by maxNameWire.
func readName(msg []byte, off int, buf []byte) ([]byte, int, error) {
	next := -1        // where the name ends in the record that holds it
	segment := off    // start of the run of labels being read
	wire := 0         // octets of the name so far, length octets included
	start := len(buf) // to tell the root from a longer name
	for {
		if off >= len(msg) {
			return nil, 0, malformed(off, "name runs past the end")
		}
		c := int(msg[off])
		switch c & 0xC0 {
		case 0x00:
			if c == 0 {
				if next < 0 {
					next = off + 1
				}
				if len(buf) == start {
					buf = append(buf, '.')
				}
				return buf, next, nil
			}
			if wire += 1 + c; wire+1 > maxNameWire {
				return nil, 0, malformed(off, "name longer than 255 octets")
			}
			if off+1+c > len(msg) {
				return nil, 0, malformed(off, "label runs past the end")
			}
			buf = appendLabel(buf, msg[off+1:off+1+c])
			buf = append(buf, '.')
			off += 1 + c
		case 0xC0:
			if off+2 > len(msg) {
				return nil, 0, malformed(off, "pointer runs past the end")
			}
			ptr := (c&0x3F)<<8 | int(msg[off+1])
			// RFC 1035 §4.1.4: a pointer refers to a prior occurrence.
			if ptr >= segment {
				return nil, 0, malformed(off, "compression pointer does not point backwards")
			}
			if next < 0 {
				next = off + 2
			}
			off, segment = ptr, ptr
		default:
			// 0x40 and 0x80 are reserved (RFC 1035 §4.1.4; RFC 6891 §5
			// retired the extended label types).
			return nil, 0, malformed(off, "reserved label type")
		}
	}
}

// appendLabel appends one label in presentation form.
func appendLabel(buf, label []byte) []byte {
	for _, c := range label {
		switch {
		case c == '.' || c == '\\':
			buf = append(buf, '\\', c)
		case c < 0x21 || c > 0x7E:
			buf = append(buf, '\\', '0'+c/100, '0'+c/10%10, '0'+c%10)
		default:
			buf = append(buf, c)
		}
	}
	return buf
}

// appendName appends name, in presentation form with or without its
// trailing '.', in wire form without compression.
func appendName(dst []byte, name string) ([]byte, error) {
	if name == "" {
		return dst, encodeError(ErrName, "empty name")
	}
	if name == "." {
		return append(dst, 0), nil
	}
	begin := len(dst)
	lenAt := len(dst) // where the current label's length octet is
	dst = append(dst, 0)
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch c {
		case '.':
			n := len(dst) - lenAt - 1
			if n == 0 {
				return dst[:begin], encodeError(ErrName, "empty label in "+quote(name))
			}
			dst[lenAt] = byte(n)
			if i == len(name)-1 {
				return finishName(dst, begin, name)
			}
			lenAt = len(dst)
			dst = append(dst, 0)
			continue
		case '\\':
			if i+1 >= len(name) {
				return dst[:begin], encodeError(ErrName, "bad escape in "+quote(name))
			}
			if d, ok := decimal3(name[i+1:]); ok {
				c, i = d, i+3
			} else if isDigit(name[i+1]) {
				return dst[:begin], encodeError(ErrName, "bad escape in "+quote(name))
			} else {
				c, i = name[i+1], i+1
			}
		}
		if len(dst)-lenAt-1 == maxLabel {
			return dst[:begin], encodeError(ErrName, "label longer than 63 octets in "+quote(name))
		}
		dst = append(dst, c)
	}
	n := len(dst) - lenAt - 1
	dst[lenAt] = byte(n)
	return finishName(dst, begin, name)
}

// finishName adds the root label and checks the whole name's length.
func finishName(dst []byte, begin int, name string) ([]byte, error) {
	dst = append(dst, 0)
	if len(dst)-begin > maxNameWire {
		return dst[:begin], encodeError(ErrName, "name longer than 255 octets: "+quote(name))
	}
	return dst, nil
}

// decimal3 parses the DDD of a "\DDD" escape.
func decimal3(s string) (byte, bool) {
	if len(s) < 3 || !isDigit(s[0]) || !isDigit(s[1]) || !isDigit(s[2]) {
		return 0, false
	}
	v := int(s[0]-'0')*100 + int(s[1]-'0')*10 + int(s[2]-'0')
	if v > 255 {
		return 0, false
	}
	return byte(v), true
}

func isDigit(c byte) bool { return c-'0' < 10 }

// quote bounds a name quoted in an error message.
func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return `"` + s + `"`
}

// EqualNames reports whether a and b, in presentation form, are the same
// name: ASCII letters compare without regard to case (RFC 4343), and a
// trailing '.' is optional.
func EqualNames(a, b string) bool {
	a, b = trimDot(a), trimDot(b)
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x-'A' < 26 {
			x += 'a' - 'A'
		}
		if y-'A' < 26 {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// trimDot drops a name's trailing '.' unless it is the root.
func trimDot(s string) string {
	if len(s) > 1 && endsWithDot(s) {
		return s[:len(s)-1]
	}
	return s
}

// endsWithDot reports whether s ends with a '.' that is not escaped: one
// preceded by an even number of backslashes.
func endsWithDot(s string) bool {
	if len(s) == 0 || s[len(s)-1] != '.' {
		return false
	}
	n := 0
	for i := len(s) - 2; i >= 0 && s[i] == '\\'; i-- {
		n++
	}
	return n%2 == 0
}

// Fqdn returns name with a trailing '.', the form Decode produces.
func Fqdn(name string) string {
	if name == "" || endsWithDot(name) {
		return name
	}
	return name + "."
}

package sip

import "time"

// MaxForwards returns the Max-Forwards value, 0 to 255 (RFC 3261 §20.22,
// §25: 1*DIGIT; RFC 4475 §3.1.2.4 rejects 300). ok is false when absent.
func (m *Message) MaxForwards() (n int, ok bool, err error) {
	v := m.Get(HeaderMaxForwards)
	if !m.Has(HeaderMaxForwards) {
		return 0, false, nil
	}
	u, valid := parseUint32(v)
	if !valid || u > 255 {
		return 0, true, m.fieldError(HeaderMaxForwards, v, newError(ErrBadHeader, 0, "bad value"))
	}
	return int(u), true, nil
}

// Expires returns the Expires value in seconds (RFC 3261 §20.19:
// delta-seconds, which must fit 32 bits). ok is false when absent.
func (m *Message) Expires() (secs uint32, ok bool, err error) {
	return m.deltaSeconds(HeaderExpires)
}

// MinExpires returns the Min-Expires value in seconds (RFC 3261 §20.23).
func (m *Message) MinExpires() (secs uint32, ok bool, err error) {
	return m.deltaSeconds(HeaderMinExpires)
}

func (m *Message) deltaSeconds(h HeaderName) (uint32, bool, error) {
	v := m.Get(h)
	if !m.Has(h) {
		return 0, false, nil
	}
	u, valid := parseUint32(v)
	if !valid {
		return 0, true, m.fieldError(h, v, newError(ErrBadHeader, 0, "bad value"))
	}
	return u, true, nil
}

// RetryAfter returns the delta-seconds of Retry-After (RFC 3261 §20.33):
// delta-seconds [ comment ] *( SEMI retry-param ).
func (m *Message) RetryAfter() (secs uint32, ok bool, err error) {
	v := m.Get(HeaderRetryAfter)
	if !m.Has(HeaderRetryAfter) {
		return 0, false, nil
	}
	i := 0
	for i < len(v) && isDigit(v[i]) {
		i++
	}
	u, valid := parseUint32(v[:i])
	if rest := trimWS(v[i:]); valid && len(rest) > 0 && rest[0] != '(' && rest[0] != ';' {
		valid = false
	}
	if !valid {
		return 0, true, m.fieldError(HeaderRetryAfter, v, newError(ErrBadHeader, 0, "bad value"))
	}
	return u, true, nil
}

// Date parses the Date header field, an RFC 1123 date whose zone MUST be
// "GMT" (RFC 3261 §20.17; RFC 4475 §3.1.2.12).
func (m *Message) Date() (time.Time, error) {
	v := m.Get(HeaderDate)
	if !m.Has(HeaderDate) {
		return time.Time{}, m.missing(HeaderDate)
	}
	t, err := time.Parse(time.RFC1123, string(v))
	if err != nil || len(v) < 3 || string(v[len(v)-3:]) != "GMT" {
		return time.Time{}, m.fieldError(HeaderDate, v, newError(ErrBadHeader, 0, "bad date"))
	}
	return t, nil
}

package dnsmsg

import (
	"errors"
	"strconv"
)

// Sentinel errors, for errors.Is. Decode and Append return an *Error
// wrapping exactly one of these.
var (
	// ErrMalformed: the bytes break RFC 1035 §4 (a field runs past the end,
	// a bad compression pointer, an RDATA length that does not match its
	// contents, trailing bytes).
	ErrMalformed = errors.New("dnsmsg: malformed message")
	// ErrTooLarge: the message exceeds a limit of this package
	// (MaxMessageSize, MaxRecords).
	ErrTooLarge = errors.New("dnsmsg: message too large")
	// ErrName: a domain name to encode is not valid (an empty label, a
	// label over 63 octets, a name over 255 octets, a bad escape).
	ErrName = errors.New("dnsmsg: invalid domain name")
	// ErrRecord: a record to encode does not fit its type (an A record
	// whose address is not IPv4, a character-string over 255 octets).
	ErrRecord = errors.New("dnsmsg: invalid record")
)

// Error describes where and why input was rejected.
type Error struct {
	Err    error  // one of the sentinel errors above
	Offset int    // byte offset in the decoded message, -1 when encoding
	Reason string // what was wrong, e.g. "compression pointer loops"
}

func (e *Error) Error() string {
	s := "dnsmsg: " + e.Reason
	if e.Offset >= 0 {
		s += " at offset " + strconv.Itoa(e.Offset)
	}
	return s
}

// Unwrap returns the sentinel error, so errors.Is(err, ErrMalformed) works.
func (e *Error) Unwrap() error { return e.Err }

func malformed(off int, reason string) error {
	return &Error{Err: ErrMalformed, Offset: off, Reason: reason}
}

func encodeError(sentinel error, reason string) error {
	return &Error{Err: sentinel, Offset: -1, Reason: reason}
}

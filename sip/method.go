package sip

// Method identifies a request method. Methods are case-sensitive
// (RFC 3261 §7.1), so "invite" is an extension method, not INVITE.
type Method uint8

// Methods of RFC 3261 and the extensions the stack knows.
const (
	MethodOther     Method = iota // an extension method; see Message.MethodName
	MethodInvite                  // RFC 3261
	MethodAck                     // RFC 3261
	MethodBye                     // RFC 3261
	MethodCancel                  // RFC 3261
	MethodOptions                 // RFC 3261
	MethodRegister                // RFC 3261
	MethodSubscribe               // RFC 6665
	MethodNotify                  // RFC 6665
	MethodRefer                   // RFC 3515
	MethodInfo                    // RFC 6086
	MethodUpdate                  // RFC 3311
	MethodPrack                   // RFC 3262
	MethodMessage                 // RFC 3428
	MethodPublish                 // RFC 3903
	numMethods
)

var methodNames = [numMethods]string{
	"", "INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "SUBSCRIBE",
	"NOTIFY", "REFER", "INFO", "UPDATE", "PRACK", "MESSAGE", "PUBLISH",
}

// String returns the method's name, or "" for MethodOther.
func (m Method) String() string {
	if m >= numMethods {
		return ""
	}
	return methodNames[m]
}

// LookupMethod returns the Method named by b, case-sensitively, or
// MethodOther.
func LookupMethod(b []byte) Method {
	if len(b) < 3 {
		return MethodOther
	}
	// The first byte and the length pick at most one candidate.
	var m Method
	switch b[0] {
	case 'I':
		if len(b) == 6 {
			m = MethodInvite
		} else {
			m = MethodInfo
		}
	case 'A':
		m = MethodAck
	case 'B':
		m = MethodBye
	case 'C':
		m = MethodCancel
	case 'O':
		m = MethodOptions
	case 'R':
		if len(b) == 8 {
			m = MethodRegister
		} else {
			m = MethodRefer
		}
	case 'S':
		m = MethodSubscribe
	case 'N':
		m = MethodNotify
	case 'U':
		m = MethodUpdate
	case 'P':
		if len(b) == 5 {
			m = MethodPrack
		} else {
			m = MethodPublish
		}
	case 'M':
		m = MethodMessage
	default:
		return MethodOther
	}
	if string(b) == methodNames[m] {
		return m
	}
	return MethodOther
}

package transaction

import (
	"bytes"

	"github.com/sipxfer/sipxfer/sip"
)

// Matching keys. Both tables are maps from a string key to a chain of
// transactions (linked through their next field) that share it:
//
//   - Client transactions are keyed by the branch of the top Via they sent;
//     the chain holds the INVITE and the CANCEL that share a branch, told
//     apart by the CSeq method (RFC 3261 §17.1.3).
//   - Server transactions created by a request whose branch has the magic
//     cookie are keyed by branch and sent-by (serverKey); the chain tells
//     the methods apart (RFC 3261 §17.2.3), INVITE standing for ACK, and
//     lets a CANCEL find the request it cancels (§9.2).
//   - Server transactions of RFC 2543 requests are keyed by Call-ID in a
//     table of their own and compared field by field (match2543).
//
// Lookups index the maps with m[string(b)] where b is a view into the
// message or a key built in a stack buffer; the Go compiler does not
// allocate for that conversion, so matching allocates nothing
// (TestMatchingAllocs).

// keyBufLen is the size of the stack buffer serverKey fills; a longer key
// (a branch and host together over 250 bytes) spills to the heap.
const keyBufLen = 256

// serverKey appends to dst the key of a server transaction for a request
// whose top Via branch has the magic cookie: the branch and the sent-by,
// each case-folded (RFC 3261 §7.3.1: parameter values and hosts compare
// without regard to case), with the port as written (0 when absent).
func serverKey(dst []byte, via *sip.Via) []byte {
	dst = appendLower(dst, via.Branch)
	dst = append(dst, 0)
	dst = appendLower(dst, via.Host)
	return append(dst, 0, byte(via.Port>>8), byte(via.Port))
}

func appendLower(dst, s []byte) []byte {
	for _, c := range s {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// methodName returns the name of a method as a string without allocating
// for the methods the stack knows.
func methodName(m sip.Method, name []byte) string {
	if m != sip.MethodOther {
		return m.String()
	}
	return string(name)
}

// requestMethod reads the method token of a request line: the bytes before
// the first space. ok is false when there is none.
func requestMethod(req []byte) (name []byte, ok bool) {
	sp := bytes.IndexByte(req, ' ')
	if sp <= 0 {
		return nil, false
	}
	name = req[:sp]
	for _, c := range name {
		if c <= ' ' || c >= 0x7f || c == ':' || c == '/' {
			return nil, false
		}
	}
	return name, true
}

// statusCode reads the status code of a response's Status-Line,
// "SIP/2.0 SP 3DIGIT SP" (RFC 3261 §7.2), without parsing the rest.
func statusCode(resp []byte) (int, bool) {
	const prefix = "SIP/2.0 "
	if len(resp) < len(prefix)+3 || !bytes.EqualFold(resp[:len(prefix)], []byte(prefix)) {
		return 0, false
	}
	d := resp[len(prefix) : len(prefix)+3]
	if d[0] < '1' || d[0] > '6' || d[1] < '0' || d[1] > '9' || d[2] < '0' || d[2] > '9' {
		return 0, false
	}
	if len(resp) > len(prefix)+3 && resp[len(prefix)+3] != ' ' && resp[len(prefix)+3] != '\r' {
		return 0, false
	}
	return int(d[0]-'0')*100 + int(d[1]-'0')*10 + int(d[2]-'0'), true
}

// toTag returns the tag of a message's To header field, nil if none.
func toTag(m *sip.Message) []byte { return m.ToTag() }

// fromTag returns the tag of a message's From header field, nil if none.
func fromTag(m *sip.Message) []byte { return m.FromTag() }

// match2543 reports whether req matches the server transaction created by
// orig under the rules RFC 3261 §17.2.3 keeps for RFC 2543 requests, whose
// branch lacks the magic cookie. Call-ID is the table key and already
// equal. The rules:
//
//   - INVITE and non-INVITE: Request-URI, To tag, From tag, Call-ID, CSeq
//     (number and method) and top Via match the creating request's.
//   - ACK: the same, except that the CSeq method is not compared (the
//     transaction is the INVITE's) and the To tag must equal the tag of the
//     response the transaction sent (respTag).
//   - A CANCEL looking for the request it cancels (target set; RFC 3261
//     §9.2): the same as for the request, the method being anything but
//     CANCEL or ACK.
func match2543(orig, req *sip.Message, respTag []byte, target bool) bool {
	oc, err1 := orig.CSeq()
	rc, err2 := req.CSeq()
	if err1 != nil || err2 != nil || oc.Seq != rc.Seq {
		return false
	}
	switch {
	case req.Method() == sip.MethodAck:
		if orig.Method() != sip.MethodInvite || !bytes.EqualFold(toTag(req), respTag) {
			return false
		}
	case target:
		if orig.Method() == sip.MethodCancel || orig.Method() == sip.MethodAck ||
			!bytes.EqualFold(toTag(req), toTag(orig)) {
			return false
		}
	default:
		if !bytes.Equal(oc.MethodName, rc.MethodName) || !bytes.EqualFold(toTag(req), toTag(orig)) {
			return false
		}
	}
	if !bytes.EqualFold(fromTag(req), fromTag(orig)) || !orig.RequestURI().Equal(req.RequestURI()) {
		return false
	}
	ov, err1 := orig.TopVia()
	rv, err2 := req.TopVia()
	return err1 == nil && err2 == nil && viaEqual(&ov, &rv)
}

// viaEqual compares two Via values for RFC 2543 matching: the same
// transport, sent-by and branch (if any). Other parameters, which a proxy
// may add, are ignored.
func viaEqual(a, b *sip.Via) bool {
	return bytes.EqualFold(a.Transport, b.Transport) &&
		bytes.EqualFold(a.Host, b.Host) && a.Port == b.Port &&
		bytes.EqualFold(a.Branch, b.Branch)
}

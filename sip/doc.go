// Package sip parses and builds SIP messages (RFC 3261 §7, §20, §25)
// without allocating: Parse a datagram or stream frame into a reusable
// Message, read its header fields as typed values (Via, CSeq, From/To,
// Contact, Refer-To, Replaces, Event ...), and append a response or request
// to a byte slice with AppendResponse, AppendHeader and AppendBody.
//
//	var m sip.Message // reusable: parse into it again and again
//	if err := sip.Parse(&m, datagram); err != nil {
//		var pe *sip.ParseError // carries the 400, 505 or 513 to answer
//		errors.As(err, &pe)
//	}
//	via, _ := m.TopVia()
//	cseq, _ := m.CSeq()
//
// A Message is a view: everything read from it refers to the buffer it was
// parsed from, valid as long as that buffer is unchanged (Clone copies).
// Limits on untrusted input (message size, header count, line length,
// parameters) are the fields of a Parser; Parse uses the defaults.
// Message.Validate runs every check a user agent owes a request before acting on
// it (RFC 3261 §8.2).
//
// URIs (comparison per §19.1.4), name-addrs and
// the escaping rules of §19.1.1 live here too, so that every layer above
// reads headers the same way. Packages transport, transaction, dialog,
// event and refer build on it; it imports nothing of this module.
package sip

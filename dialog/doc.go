// Package dialog implements SIP dialogs (RFC 3261 §12–15) and their usages
// (RFC 5057), with a small user agent on top.
//
// A Dialog is the peer-to-peer relationship RFC 3261 §12 defines: its
// identity (Call-ID, local tag, remote tag), the local and remote URIs, the
// remote target, the route set, the secure flag and the two CSeq spaces.
// Dialogs are created by a UA from dialog-forming requests and their
// responses (INVITE, SUBSCRIBE, REFER), live in the UA's table, and end when
// their last usage ends (RFC 5057 §2): an INVITE usage (a Call) and any
// number of subscription usages (package event) can share one dialog, and a
// BYE ends only the INVITE usage.
//
// The UA is the transaction user of a transaction.Manager over a
// transport.Layer. It routes every request: in-dialog requests (those with a
// To tag) to their dialog, after the CSeq check of §12.2.2, with 481 for
// those matching none; INVITE, BYE and ACK to the Call that owns the INVITE
// usage; other methods to the Handler registered for them (Handle), which is
// how packages event and refer attach their usages. Session descriptions
// are opaque bytes supplied by the application: this package writes no
// media code.
//
// Concurrency. A UA is safe for concurrent use. Handlers and callbacks run on
// the goroutine that delivered the message (a transport reader or a clock
// timer) with no lock held; they must not block, and may answer later from
// any goroutine. Messages passed to them are valid only during the call.
package dialog

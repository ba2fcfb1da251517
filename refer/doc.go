// Package refer implements the SIP REFER method (RFC 3515) for call
// transfer (RFC 5589): reading and checking the Refer-To of a REFER against
// a policy, and writing the Refer-To of an attended transfer with an
// embedded Replaces (RFC 3891).
//
// Like package sip, it works on views: a Target refers to the buffer the
// REFER was parsed from and is valid only as long as that buffer is.
package refer

// Package dnsmsg encodes and decodes DNS messages (RFC 1035 §4): a query
// with one question, and a response's header, questions, answer,
// authority and additional sections. Record data is decoded into fields
// for the types a SIP client needs to locate a server (RFC 3263): A and
// AAAA (RFC 3596), SRV (RFC 2782), NAPTR (RFC 3403), CNAME, NS, PTR and SOA
// (whose minimum bounds negative caching, RFC 2308); any other type keeps
// its RDATA as bytes.
//
// Everything here is a function of bytes to bytes: no sockets, no clock.
// Decode treats its input as hostile: it never panics, follows compression
// pointers only backwards (so no loop is possible), bounds every name at
// 255 octets, and refuses messages with more than MaxRecords records
// before allocating for them. Append writes names without compression,
// which RFC 1035 leaves optional for a sender.
//
// Names are text in presentation form (RFC 1035 §5.1), fully qualified
// with a trailing '.', with "\." and "\DDD" escapes for octets that are not
// printable ASCII; EqualNames compares them without regard to case.
package dnsmsg

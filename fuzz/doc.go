// Package fuzz holds native Go fuzz targets: for the parsers (sip and
// sipfrag), and for the state machines above them.
//
// Parser targets check properties, not just the absence of panics: views
// stay inside the input, Clone and AppendTo preserve what was parsed,
// Frame and ParseStream agree. Their seed corpus is the benchmark messages
// of package bench, a few hand-written edge cases and every RFC 4475
// torture message under testdata/rfc4475; the parser's limits bound the
// memory every target uses.
//
// State-machine targets (FuzzTransactions, FuzzDialogs, FuzzSubscriptions,
// FuzzTransfers) drive the transaction, dialog, event and refer layers
// with arbitrary sequences of messages from a scripted peer, local actions
// and jumps of a fake clock, and check what must hold whatever happens: no
// answer to an ACK, one final response per request, the RFC's rules on
// what the UA sends, every subscription and transfer ending, and nothing
// (transaction, timer, dialog, subscription, goroutine) left after Close.
//
//	go test ./fuzz                                      # seed corpora only
//	go test -run '^$' -fuzz '^FuzzTransfers$' -fuzztime 4h ./fuzz
package fuzz

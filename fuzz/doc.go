// Package fuzz holds the native Go fuzz targets of the sip and sipfrag
// parsers. The targets live in the test files; their seed corpus is the
// benchmark messages of package bench, a few hand-written edge cases and
// every RFC 4475 torture message under testdata/rfc4475.
//
//	go test ./fuzz                                      # seed corpus only
//	go test -run '^$' -fuzz '^FuzzParse$' -fuzztime 60s ./fuzz
//
// Each target checks properties, not just the absence of panics: views
// stay inside the input, Clone and AppendTo preserve what was parsed,
// Frame and ParseStream agree. The parser's limits (sip.Parser) bound the
// memory every target uses, whatever the fuzzer generates.
package fuzz

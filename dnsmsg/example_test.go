package dnsmsg_test

import (
	"fmt"

	"github.com/sipxfer/sipxfer/dnsmsg"
)

// A query goes out as bytes; a response comes back as bytes and decodes
// into typed records.
func Example() {
	query, err := dnsmsg.AppendQuery(nil, 0x5A5A, "_sip._udp.example.test", dnsmsg.TypeSRV, true)
	if err != nil {
		panic(err)
	}
	fmt.Println(len(query), "octets")

	// What a server might answer (built here with the same package).
	resp := dnsmsg.Message{
		Header:    dnsmsg.Header{ID: 0x5A5A, Response: true, RecursionDesired: true},
		Questions: []dnsmsg.Question{{Name: "_sip._udp.example.test.", Type: dnsmsg.TypeSRV, Class: dnsmsg.ClassINET}},
		Answers: []dnsmsg.RR{{Name: "_sip._udp.example.test.", Type: dnsmsg.TypeSRV, Class: dnsmsg.ClassINET, TTL: 300,
			SRV: dnsmsg.SRV{Priority: 10, Weight: 5, Port: 5070, Target: "pbx.example.test."}}},
	}
	wire, err := resp.Append(nil)
	if err != nil {
		panic(err)
	}

	var m dnsmsg.Message
	if err := m.Decode(wire); err != nil {
		panic(err)
	}
	for _, rr := range m.Answers {
		fmt.Println(rr.Type, rr.TTL, rr.SRV.Priority, rr.SRV.Weight, rr.SRV.Port, rr.SRV.Target)
	}
	fmt.Println(m.RCode, m.Truncated)
	// Output:
	// 40 octets
	// SRV 300 10 5 5070 pbx.example.test.
	// NOERROR false
}

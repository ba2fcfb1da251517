package transport

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// RFC 4475 §3.1.2.3 (ncl) and §3.3.9 (mcl01), byte-exact, as UDP
// datagrams: a negative or a repeated Content-Length gets 400, routed back
// to the source (the Via names a host the stack does not resolve).
func TestTortureContentLengthAnswered400(t *testing.T) {
	for _, file := range []string{"ncl.dat", "mcl01.dat"} {
		t.Run(file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("..", "testdata", "rfc4475", file))
			if err != nil {
				t.Fatal(err)
			}
			p := newMemPair(t, Config{})
			var sent []string // what the server sent, seen on the network:
			// the client drops it, its Via not naming the client (§18.1.2)
			p.n.trace = func(from, to Addr, b []byte) {
				if from == p.dst && to == p.src {
					sent = append(sent, string(b))
				}
			}
			if err := p.client.Send(p.dst, b); err != nil {
				t.Fatal(err)
			}
			p.srv.none(t)
			if len(sent) != 1 || !strings.HasPrefix(sent[0], "SIP/2.0 400 Bad Request (") {
				t.Fatalf("server sent %q", sent)
			}
			if st := p.server.Stats(); st.Rejected != 1 || st.DroppedRequests != 0 {
				t.Errorf("server stats %+v", st)
			}
		})
	}
}

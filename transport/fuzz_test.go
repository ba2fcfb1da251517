package transport

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sipxfer/sipxfer/sip"
)

// FuzzReceive feeds arbitrary bytes to the receive path as a datagram and
// as a stream write: nothing may panic, and what reaches the Handler is
// valid, with its top Via stamped when it is a request.
func FuzzReceive(f *testing.F) {
	f.Add([]byte("OPTIONS sip:bob@192.0.2.2 SIP/2.0\r\n" + viaFuzz + rest))
	f.Add([]byte("SIP/2.0 200 OK\r\n" + viaFuzz + rest))
	f.Add([]byte("\r\n\r\n"))
	f.Add(streamRequest(1))
	files, _ := filepath.Glob("../testdata/rfc4475/*.dat")
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	n := NewNetwork(NewFakeClock(time.Unix(0, 0)), 1)
	check := HandlerFunc(func(in *Inbound) {
		m := in.Msg
		if err := m.Validate(); err != nil {
			panic("invalid message reached the Handler: " + err.Error())
		}
		if v, err := m.TopVia(); m.IsRequest() && (err != nil || (v.HasRPort && v.RPort == 0 && v.Received == nil)) {
			panic("request not stamped")
		}
	})
	server := New(Config{Logger: quietLogger}, check)
	defer server.Close()
	dst := must[Addr](f)(server.ListenMem(n, mustAddr(f, UDP, "192.0.2.2:5060")))
	dstTCP := must[Addr](f)(server.ListenMem(n, mustAddr(f, TCP, "192.0.2.2:5060")))
	client := New(Config{Logger: quietLogger}, nil)
	defer client.Close()
	must[Addr](f)(client.ListenMem(n, mustAddr(f, UDP, "192.0.2.1:5060")))
	must[Addr](f)(client.ListenMem(n, mustAddr(f, TCP, "192.0.2.1:5060")))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > maxDatagram {
			return
		}
		orig := bytes.Clone(b)
		client.Send(dst, b)
		client.Send(dstTCP, b)
		if !bytes.Equal(b, orig) {
			t.Fatal("Send modified its input")
		}
		var v sip.Via
		wireTopVia(b, &v)
		responseDest(ReplyTo{Remote: dst}, &v, true)
	})
}

const viaFuzz = "Via: SIP/2.0/UDP 192.0.2.77:5060;rport;branch=z9hG4bK1\r\n"
const rest = "From: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"

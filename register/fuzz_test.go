package register

import (
	"errors"
	"testing"

	"github.com/sipxfer/sipxfer/sip"
)

// FuzzGrantedExpires: whatever a registrar's 2xx holds, reading the
// binding's lifetime does not panic and fails only with the package's
// sentinel errors.
func FuzzGrantedExpires(f *testing.F) {
	for _, s := range []string{
		"Contact: <sip:alice@127.0.0.1:5060>;expires=60\r\n",
		"Contact: <sip:alice@127.0.0.1:5060>\r\nExpires: 120\r\n",
		"Contact: <sip:bob@127.0.0.1:5060>;expires=60, <sip:alice@127.0.0.1:5060>;expires=30\r\n",
		"Contact: *\r\n",
		"Expires: 60\r\n",
		"Contact: <sip:alice@127.0.0.1:5060>;expires=99999999999\r\n",
	} {
		f.Add(s)
	}
	var ours sip.URI
	if err := ours.Parse([]byte("sip:alice@127.0.0.1:5060")); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, headers string) {
		raw := "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1\r\nFrom: <sip:alice@example.com>;tag=1\r\nTo: <sip:alice@example.com>;tag=2\r\nCall-ID: c\r\nCSeq: 2 REGISTER\r\n" + headers + "Content-Length: 0\r\n\r\n"
		var m sip.Message
		if sip.Parse(&m, []byte(raw)) != nil {
			return
		}
		d, err := grantedExpires(&m, &ours)
		if err != nil && !errors.Is(err, ErrBadResponse) && !errors.Is(err, ErrNoBinding) && !errors.Is(err, ErrNoExpires) {
			t.Fatalf("error %v is none of the sentinels", err)
		}
		if err == nil && d < 0 {
			t.Fatalf("negative lifetime %v", d)
		}
	})
}

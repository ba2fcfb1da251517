package transport

import (
	"crypto/tls"
	"errors"
	"net/netip"
	"testing"
)

// ConnectTLS checks the server's certificate against the name given for
// the destination (RFC 5922 §7: the SIP domain), reuses the connection for
// that name, and refuses a name the certificate does not carry. The test
// certificate names localhost and 127.0.0.1.
func TestConnectTLSByName(t *testing.T) {
	cfg := testTLSConfig(t)
	server := newLayer(t, Config{TLS: cfg}, newRecorder())
	dst := must[Addr](t)(server.ListenTLS(netip.MustParseAddrPort("127.0.0.1:0")))
	client := newLayer(t, Config{TLS: cfg}, nil)
	must[Addr](t)(client.ListenTLS(netip.MustParseAddrPort("127.0.0.1:0")))

	if err := client.ConnectTLS(dst, "localhost"); err != nil {
		t.Fatal(err)
	}
	if err := client.ConnectTLS(dst, "localhost"); err != nil || client.Stats().OpenConns != 1 {
		t.Fatalf("again: %v, %d connections; want the one reused", err, client.Stats().OpenConns)
	}
	err := client.ConnectTLS(dst, "example.test")
	var ce *tls.CertificateVerificationError
	if !errors.As(err, &ce) {
		t.Fatalf("example.test: %v, want a certificate verification error", err)
	}
	if err := client.ConnectTLS(Addr{Proto: UDP, AddrPort: dst.AddrPort}, "example.test"); err != nil {
		t.Errorf("not TLS: %v, want nothing done", err)
	}
}

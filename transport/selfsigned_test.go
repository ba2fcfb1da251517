package transport

import (
	"crypto/tls"
	"crypto/x509"
	"testing"
)

// The certificate verifies, trusted as its own root, for every loopback
// name, and the configuration asks for TLS 1.2 at least.
func TestSelfSignedTLS(t *testing.T) {
	cfg, err := SelfSignedTLS()
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(cfg.Certificates[0].Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"127.0.0.1", "::1", "localhost"} {
		if _, err := cert.Verify(x509.VerifyOptions{DNSName: name, Roots: cfg.RootCAs}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if cfg.MinVersion != tls.VersionTLS12 {
		t.Errorf("MinVersion %x", cfg.MinVersion)
	}
}

package dialog

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net/netip"
	"testing"
	"time"

	"github.com/sipxfer/sipxfer/locate"
	"github.com/sipxfer/sipxfer/sip"
	"github.com/sipxfer/sipxfer/transaction"
)

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sipxfer test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// issue returns a certificate for the DNS names, signed by the CA, good
// for servers and clients.
func (ca *testCA) issue(t *testing.T, names ...string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// RFC 5922 §7: the TLS server's certificate is checked against the SIP
// domain of the URI (the host before resolution), not the SRV target or
// the IP address: bob's certificate for example.test is good for
// sips:bob@example.test, located by SRV at srv1.example.test = 127.0.0.1,
// and not for sips:bob@other.test, which DNS sends to the same place. Both
// ends present certificates, and bob requires one (mutual TLS).
func TestTLSServerCheckedAgainstDomain(t *testing.T) {
	ca := newTestCA(t)
	calls := make(chan *Call, 2)
	bobTLS := &tls.Config{Certificates: []tls.Certificate{ca.issue(t, "example.test", "other-cert.test")}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: ca.pool, RootCAs: ca.pool}
	bob := newTLSUA(t, "bob", bobTLS, nil, calls)
	b, err := bob.ListenTLS(netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	f := newFakeDNS()
	for _, d := range []string{"example.test", "other.test"} {
		f.srv["_sips._tcp."+d] = []locate.SRV{srvRR(10, 0, b.Port(), "srv1.example.test.")}
	}
	f.addr["srv1.example.test"] = loopback()
	aliceTLS := &tls.Config{Certificates: []tls.Certificate{ca.issue(t, "alice.test")}, RootCAs: ca.pool}
	alice := newTLSUA(t, "alice", aliceTLS, &locate.Locator{Resolver: f}, nil)
	if _, err := alice.ListenTLS(netip.MustParseAddrPort("127.0.0.1:0")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	c, err := alice.Invite(ctx, "sips:bob@example.test", nil)
	if err != nil {
		t.Fatalf("sips:bob@example.test: %v", err)
	}
	if err := (<-calls).Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Bye(ctx); err != nil {
		t.Fatal(err)
	}

	_, err = alice.Invite(ctx, "sips:bob@other.test", nil)
	var te *transaction.Error
	var ce *tls.CertificateVerificationError
	if !errors.As(err, &te) || !errors.As(err, &ce) {
		t.Fatalf("sips:bob@other.test: %v, want a transport error for the certificate", err)
	}
	select {
	case <-calls:
		t.Fatal("bob was called for other.test")
	default:
	}
}

func newTLSUA(t *testing.T, name string, cfg *tls.Config, loc Locator, calls chan *Call) *UA {
	t.Helper()
	c := Config{User: name, Logger: quiet, Locator: loc}
	c.Transport.TLS = cfg
	if calls != nil {
		c.OnInvite = func(call *Call, req *sip.Message) {
			calls <- call
			autoAnswer(call, req)
		}
	}
	ua := NewUA(c)
	t.Cleanup(func() { ua.Close() })
	return ua
}

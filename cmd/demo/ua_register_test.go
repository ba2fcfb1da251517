// Tests of "demo ua -register": a registrar in process that challenges,
// grants and refuses.

package main

import (
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/sipxfer/sipxfer/dialog"
	"github.com/sipxfer/sipxfer/digest"
)

// registrar is a dialog UA on a UDP port of loopback answering REGISTER
// 200 (Contact;expires=60) once it verifies credentials of alice/right in
// realm "demo", and recording the Expires of each REGISTER verified.
type registrar struct {
	ua      *dialog.UA
	addr    string
	mu      sync.Mutex
	expires []string
}

func startRegistrar(t *testing.T) *registrar {
	r := &registrar{}
	r.ua = dialog.NewUA(dialog.Config{Logger: quietLogger(), User: "registrar", Authenticate: &dialog.Authenticator{
		Verifier: &digest.Verifier{}, Realm: "demo", Methods: []string{"REGISTER"},
		Lookup: func(c *digest.Credentials) (digest.Account, bool) {
			return digest.Account{Password: "right"}, c.Username == "alice"
		},
	}})
	r.ua.Handle("REGISTER", dialog.HandlerFunc(func(req *dialog.Request) {
		exp := string(req.Msg.GetName("Expires"))
		r.mu.Lock()
		r.expires = append(r.expires, exp)
		r.mu.Unlock()
		req.Respond(200, "", &dialog.ResponseOptions{Headers: []dialog.Header{{Name: "Contact", Value: string(req.Msg.GetName("Contact")) + ";expires=60"}}})
	}))
	a, err := r.ua.ListenUDP(netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	r.addr = a.AddrPort.String()
	t.Cleanup(func() { r.ua.Close() })
	return r
}

// TestUARegister: -register with -auth-user registers through a digest
// challenge (event registered, expires 60) and unregisters at exit.
func TestUARegister(t *testing.T) {
	reg := startRegistrar(t)
	p := startUA(t, "-listen", "127.0.0.1:0", "-user", "alice", "-register", "sip:"+reg.addr, "-auth-user", "alice", "-auth-password", "right")
	ev := p.waitUntil(func(ev testEvent) bool { return ev.Event == "registered" || ev.Event == "registration_failed" })
	if ev.Event != "registered" || ev.Expires != 60 || ev.AOR != "sip:alice@127.0.0.1" {
		t.Fatalf("event %+v", ev)
	}
	p.stop()
	if _, err := p.wait(); err != nil {
		t.Fatal(err)
	}
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if strings.Join(reg.expires, ",") != "3600,0" {
		t.Errorf("registrar saw Expires %q, want a registration then its removal", reg.expires)
	}
}

// TestUARegisterRejected: a wrong password is challenged a second time;
// the UA reports registration_failed with the status and exits with an
// error naming the realm.
func TestUARegisterRejected(t *testing.T) {
	reg := startRegistrar(t)
	p := startUA(t, "-listen", "127.0.0.1:0", "-user", "alice", "-register", "sip:"+reg.addr, "-auth-user", "alice", "-auth-password", "wrong")
	out, err := p.wait()
	if !errors.Is(err, digest.ErrRejected) || !strings.Contains(err.Error(), `"demo"`) {
		t.Fatalf("exit error %v, want digest.ErrRejected naming realm demo", err)
	}
	var failed []testEvent
	for _, ev := range out.events {
		if ev.Event == "registration_failed" {
			failed = append(failed, ev)
		}
	}
	if len(failed) != 1 || failed[0].Status != 401 || !strings.Contains(failed[0].Error, "demo") {
		t.Fatalf("registration_failed events %+v", failed)
	}
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if len(reg.expires) != 0 {
		t.Errorf("registrar accepted %q", reg.expires)
	}
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

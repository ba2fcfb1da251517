package refer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sipxfer/sipxfer/dialog"
	"github.com/sipxfer/sipxfer/digest"
	"github.com/sipxfer/sipxfer/sip"
)

// authStage is a stage whose parties challenge every request they receive
// (realm "refer", 401) and answer challenges with their own account;
// wrong gives a party a wrong password.
func authStage(t *testing.T, wrong string) *stage {
	s := newStage(t)
	lookup := func(c *digest.Credentials) (digest.Account, bool) {
		return digest.Account{Password: "pw-" + c.Username}, true
	}
	s.ua = func(name string, cfg *dialog.Config) {
		user := strings.ToLower(name)
		pw := "pw-" + user
		if name == wrong {
			pw = "wrong"
		}
		cfg.Credentials = func(ch *digest.Challenge) (digest.Account, bool) {
			return digest.Account{Username: user, Password: pw}, ch.Realm == "refer"
		}
		cfg.Authenticate = &dialog.Authenticator{Verifier: &digest.Verifier{Now: s.clock.Now}, Realm: "refer", Lookup: lookup}
	}
	return s
}

// bounded is a context that ends the wait of a broken test in real time;
// on the in-memory network the transfer is over before Refer returns.
func bounded(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(bg(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// count returns how many of lines are want.
func count(lines []string, want string) int {
	n := 0
	for _, l := range lines {
		if l == want {
			n++
		}
	}
	return n
}

// A blind transfer where every request is challenged: the call's INVITE,
// the REFER, the NOTIFYs, the transferee's INVITE to the target and the
// BYEs. Each goes twice, the second time with credentials; the REFER's
// retry has a new CSeq, and the NOTIFYs carry that one as the
// subscription id (RFC 3515 §2.4.6), which the transferor expects.
func TestAuthBlindTransfer(t *testing.T) {
	s := authStage(t, "")
	alice, bob, carol := s.add("Alice", 5060, Config{}), s.add("Bob", 5070, Config{}), s.add("Carol", 5080, Config{})
	mark := s.wire.mark()
	ac, bc := s.call(alice, bob)
	var progress progressLog
	tr, err := alice.agent.Refer(ac.Dialog(), &ReferOptions{ReferTo: "<" + carol.uri() + ">", OnProgress: progress.add})
	if err != nil {
		t.Fatal(err)
	}
	res, err := tr.Wait(bounded(t))
	if err != nil || res.Code != 200 {
		t.Fatalf("transfer: %+v %v (%s)", res, err, &progress)
	}
	if got, want := progress.String(), "accepted 200, notified 100 active, notified 200 terminated, done 200"; got != want {
		t.Errorf("progress:\n got %s\nwant %s", got, want)
	}
	bc2 := <-carol.calls
	if err := ac.Bye(bg()); err != nil {
		t.Fatalf("Alice's BYE: %v", err)
	}
	if err := bc2.Bye(bg()); err != nil {
		t.Fatalf("Carol's BYE: %v", err)
	}
	_ = bc
	lines, _ := s.wire.since(mark)
	for _, c := range []struct {
		line string
		n    int
	}{
		{"Alice>Bob INVITE", 2}, {"Bob>Alice 401/INVITE", 1},
		{"Alice>Bob REFER", 2}, {"Bob>Alice 401/REFER", 1}, {"Bob>Alice 202/REFER", 0},
		{"Bob>Alice NOTIFY", 4}, {"Alice>Bob 401/NOTIFY", 2}, {"Alice>Bob 200/NOTIFY", 2},
		{"Bob>Carol INVITE", 2}, {"Carol>Bob 401/INVITE", 1},
		{"Alice>Bob BYE", 2}, {"Bob>Alice 401/BYE", 1}, {"Bob>Alice 200/BYE", 1},
		{"Carol>Bob BYE", 2}, {"Bob>Carol 401/BYE", 1},
	} {
		if got := count(lines, c.line); got != c.n {
			t.Errorf("%d × %q, want %d\n%s", got, c.line, c.n, strings.Join(lines, "\n"))
		}
	}
	var refers []*sip.Message
	for i := mark; ; {
		m := s.wire.find(i, "Alice>Bob REFER")
		if m == nil {
			break
		}
		refers = append(refers, m)
		i = s.wire.indexOf(m) + 1
	}
	if len(refers) != 2 {
		t.Fatalf("%d REFERs", len(refers))
	}
	c1, _ := refers[0].CSeq()
	c2, _ := refers[1].CSeq()
	if c2.Seq != c1.Seq+1 || !refers[1].Has(sip.HeaderAuthorization) {
		t.Fatalf("REFER CSeq %d then %d", c1.Seq, c2.Seq)
	}
	for i := mark; ; {
		n := s.wire.find(i, "Bob>Alice NOTIFY")
		if n == nil {
			break
		}
		if ev, _ := n.Event(); string(ev.ID) != fmt.Sprint(c2.Seq) {
			t.Errorf("NOTIFY Event %q, want id %d (the retried REFER's CSeq)", n.Get(sip.HeaderEvent), c2.Seq)
		}
		i = s.wire.indexOf(n) + 1
	}
}

// A REFER outside a dialog, challenged: the retry's CSeq is the id, as
// above.
func TestAuthReferOutside(t *testing.T) {
	s := authStage(t, "")
	alice, bob, carol := s.add("Alice", 5060, Config{}), s.add("Bob", 5070, Config{AcceptOutsideDialog: true}), s.add("Carol", 5080, Config{})
	tr, err := alice.agent.ReferOutside(bob.uri(), &ReferOptions{ReferTo: "<" + carol.uri() + ">"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := tr.Wait(bounded(t))
	if err != nil || res.Code != 200 {
		t.Fatalf("transfer: %+v %v", res, err)
	}
	<-carol.calls
}

// The transferor's wrong password: the REFER is sent twice, then the
// transfer fails with digest.ErrRejected; Bob never acted on it (RFC 3515
// §5: authenticate the REFER before acting).
func TestAuthReferRejected(t *testing.T) {
	s := authStage(t, "Alice")
	alice, bob, carol := s.add("Alice", 5060, Config{}), s.add("Bob", 5070, Config{}), s.add("Carol", 5080, Config{})
	s.ua = nil
	_ = carol
	// The call itself is set up from Bob, whose password is right.
	bc, ac := s.call(bob, alice)
	_ = bc
	mark := s.wire.mark()
	tr, err := alice.agent.Refer(ac.Dialog(), &ReferOptions{ReferTo: "<" + carol.uri() + ">"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = tr.Wait(bounded(t))
	if !errors.Is(err, digest.ErrRejected) || !errors.Is(err, ErrRejected) {
		t.Fatalf("transfer: %v, want digest.ErrRejected", err)
	}
	lines, _ := s.wire.since(mark)
	if count(lines, "Alice>Bob REFER") != 2 || count(lines, "Bob>Carol INVITE") != 0 || len(bob.refers) != 0 {
		t.Fatalf("wire:\n%s", strings.Join(lines, "\n"))
	}
}

// The -register, -auth-user and -auth-password flags of "demo ua": the
// registration (RFC 3261 §10) it keeps up while it runs, and how it
// reports credentials refused (RFC 3261 §22).

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/sipxfer/sipxfer/dialog"
	"github.com/sipxfer/sipxfer/digest"
	"github.com/sipxfer/sipxfer/register"
)

// checkAuthFlags checks the registration flags and takes the password
// from SIPXFER_PASSWORD when -auth-password is not given.
func (f *uaFlags) checkAuthFlags() error {
	if f.register != "" {
		if err := checkTarget("-register", f.register); err != nil {
			return err
		}
	}
	if f.registerExpires < time.Second {
		return fmt.Errorf("ua: -register-expires %v: want 1s or more", f.registerExpires)
	}
	if f.sessionExpires != 0 && f.sessionExpires < 90*time.Second {
		// RFC 4028 §4: no session interval under 90 s.
		return fmt.Errorf("ua: -session-expires %v: want 0 or 90s or more", f.sessionExpires)
	}
	if f.authPassword == "" {
		f.authPassword = os.Getenv("SIPXFER_PASSWORD")
	}
	if f.authPassword != "" && f.authUser == "" {
		return errors.New("ua: -auth-password needs -auth-user")
	}
	return nil
}

// credentials answers every realm's challenge with -auth-user, nil
// without it.
func (f *uaFlags) credentials() digest.CredentialsFunc {
	if f.authUser == "" {
		return nil
	}
	acct := digest.Account{Username: f.authUser, Password: f.authPassword}
	return func(*digest.Challenge) (digest.Account, bool) { return acct, true }
}

type registeredEvent struct {
	Event   string `json:"event"`
	AOR     string `json:"aor"`
	Expires int    `json:"expires"`
}

type registrationFailedEvent struct {
	Event   string `json:"event"`
	AOR     string `json:"aor"`
	Status  int    `json:"status,omitempty"`
	Error   string `json:"error"`
	RetryIn int    `json:"retry_in,omitempty"` // seconds; absent when it gave up
}

// registerCloseWait bounds the wait for the answer to the unregistration.
const registerCloseWait = 2 * time.Second

// startRegistration starts the -register binding. The context returned
// ends with ctx or when the registration gives up (credentials refused:
// the UA then exits); failed tells why it gave up, and unregister removes
// the binding (waiting at most registerCloseWait).
func (a *uaApp) startRegistration(ctx context.Context) (_ context.Context, failed func() error, unregister func(), _ error) {
	if a.f.register == "" {
		return ctx, func() error { return nil }, func() {}, nil
	}
	ctx, stop := context.WithCancel(ctx)
	var giveUp error
	done := make(chan struct{})
	r, err := register.Register(a.ua, register.Config{
		Registrar: a.f.register,
		Expires:   a.f.registerExpires,
		OnEvent: func(r *register.Registration, e register.Event) {
			switch e.State {
			case register.StateRegistered:
				a.events.write(registeredEvent{Event: "registered", AOR: r.AOR(), Expires: int(e.Expires / time.Second)})
			case register.StateRetrying, register.StateFailed:
				ev := registrationFailedEvent{Event: "registration_failed", AOR: r.AOR(), Status: e.Code, Error: errString(e.Err), RetryIn: int(e.RetryIn / time.Second)}
				if e.State == register.StateFailed {
					ev.RetryIn = 0
				}
				a.events.write(ev)
				a.log.Warn("ua: registration failed", "aor", r.AOR(), "err", e.Err)
				if e.State == register.StateFailed {
					// A second challenge, or no credentials: the error
					// names the realm (dialog.AuthError).
					giveUp = fmt.Errorf("ua: registration failed: %w", e.Err)
					close(done)
					stop()
				}
			}
		},
	})
	if err != nil {
		stop()
		return ctx, nil, nil, fmt.Errorf("ua: -register: %w", err)
	}
	failed = func() error {
		select {
		case <-done:
			return giveUp
		default:
			return nil
		}
	}
	unregister = func() {
		wait, cancel := context.WithTimeout(context.Background(), registerCloseWait)
		defer cancel()
		if err := r.Close(wait); err != nil {
			a.log.Warn("ua: unregistration", "err", err)
		}
		stop()
	}
	return ctx, failed, unregister, nil
}

// noteAuth keeps the first error that says a challenge could not be
// answered (credentials refused, none for the realm): the UA exits with
// it, naming the realm.
func (a *uaApp) noteAuth(err error) {
	var ae *dialog.AuthError
	if !errors.As(err, &ae) {
		return
	}
	a.mu.Lock()
	if a.authErr == nil {
		a.authErr = ae
	}
	a.mu.Unlock()
	a.log.Error("ua: authentication failed", "err", ae)
}

// authFailure returns the error noteAuth kept, wrapped for the exit.
func (a *uaApp) authFailure() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.authErr == nil {
		return nil
	}
	return fmt.Errorf("ua: authentication failed: %w", a.authErr)
}

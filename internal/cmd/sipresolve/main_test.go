package main

import (
	"strings"
	"testing"
)

func TestRunNumeric(t *testing.T) {
	var out, errs strings.Builder
	code := run([]string{"-transports", "udp,tcp", "sip:bob@127.0.0.1:5070;transport=tcp", "sip:[::1]"}, &out, &errs)
	if code != 0 || out.String() != "tcp 127.0.0.1:5070 -\nudp [::1]:5060 -\n" {
		t.Fatalf("exit %d, out %q, err %q", code, out.String(), errs.String())
	}
}

func TestRunErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		err  string
	}{
		{nil, 2, "no URI"},
		{[]string{"-server", "nowhere", "sip:a@127.0.0.1"}, 2, "-server"},
		{[]string{"-transports", "sctp", "sip:a@127.0.0.1"}, 2, "unknown"},
		{[]string{"sip:a@127.0.0.1;transport=tls", "-"}, 1, "bad scheme"},
		{[]string{"-transports", "udp", "sip:a@127.0.0.1;transport=tls"}, 1, "unsupported"},
		{[]string{"not a uri"}, 1, "whitespace in URI"},
	} {
		var out, errs strings.Builder
		code := run(c.args, &out, &errs)
		if code != c.code || !strings.Contains(errs.String(), c.err) {
			t.Errorf("%q: exit %d, err %q", c.args, code, errs.String())
		}
	}
}

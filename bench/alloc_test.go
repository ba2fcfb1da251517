package bench

import (
	"testing"

	"github.com/sipxfer/sipxfer/sip"
)

// TestZeroAllocs makes an allocation on the hot path fail the tests, not
// just show in the benchmark output: every benchmarked operation must make
// none.
func TestZeroAllocs(t *testing.T) {
	check := func(t *testing.T, f func()) {
		t.Helper()
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%v allocs per run, want 0", n)
		}
	}
	buf := make([]byte, 0, 2048)
	for _, msg := range messages {
		in := []byte(msg.text)
		var m sip.Message
		t.Run("Parse/"+msg.name, func(t *testing.T) {
			check(t, func() { sinkErr = sip.Parse(&m, in) })
		})
		t.Run("TransactionKey/"+msg.name, func(t *testing.T) {
			check(t, func() { sinkKey, sinkErr = readTxKey(&m, in) })
		})
		t.Run("Receive/"+msg.name, func(t *testing.T) {
			check(t, func() { sinkKey, sinkErr = receive(&m, in) })
		})
		t.Run("ParseAccess/"+msg.name, func(t *testing.T) {
			check(t, func() { sinkAcc, sinkErr = parseAccess(&m, in) })
		})
		t.Run("Validate/"+msg.name, func(t *testing.T) {
			check(t, func() { sinkErr = m.Validate() })
		})
		t.Run("AppendTo/"+msg.name, func(t *testing.T) {
			check(t, func() { buf = m.AppendTo(buf[:0]) })
		})
	}

	var refer, invite sip.Message
	if err := sip.Parse(&refer, []byte(Refer)); err != nil {
		t.Fatal(err)
	}
	if err := sip.Parse(&invite, []byte(Invite)); err != nil {
		t.Fatal(err)
	}
	t.Run("TypedREFER", func(t *testing.T) {
		check(t, func() { sinkRef, sinkErr = readRefer(&refer, buf) })
	})
	body := notifyBody()
	t.Run("SipfragStatus", func(t *testing.T) {
		check(t, func() { sinkCode, sinkErr = fragStatus(body) })
	})
	t.Run("AppendResponse", func(t *testing.T) {
		check(t, func() { buf = appendOK(buf[:0], &invite) })
	})
	t.Run("BuildREFER", func(t *testing.T) {
		check(t, func() { buf = appendRefer(buf[:0]) })
	})
	t.Run("stack Message", func(t *testing.T) {
		in := []byte(Invite)
		check(t, func() {
			var m sip.Message
			sinkKey, sinkErr = readTxKey(&m, in)
		})
	})
	t.Run("stack Message ParseAccess", func(t *testing.T) {
		in := []byte(Notify)
		check(t, func() {
			var m sip.Message
			sinkAcc, sinkErr = parseAccess(&m, in)
		})
	})
}

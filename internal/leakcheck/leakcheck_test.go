package leakcheck

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// tests stands for testing.M: its Run starts what it is told to.
type tests struct{ run func() }

func (t tests) Run() int { t.run(); return 0 }

func TestLeftGoroutineFails(t *testing.T) {
	stop := make(chan struct{})
	defer close(stop)
	var out bytes.Buffer
	if code := run(tests{func() { go func() { <-stop }() }}, &out, 50*time.Millisecond); code != 1 {
		t.Errorf("exit code %d with a goroutine left, want 1", code)
	}
	if !strings.Contains(out.String(), "1 goroutines outlived the tests") || !strings.Contains(out.String(), "TestLeftGoroutineFails") {
		t.Errorf("report:\n%s", out.String())
	}
}

func TestEndedGoroutinePasses(t *testing.T) {
	var out bytes.Buffer
	done := make(chan struct{})
	if code := run(tests{func() { go func() { close(done) }(); <-done }}, &out, Grace); code != 0 || out.Len() != 0 {
		t.Errorf("exit code %d, report %q", code, out.String())
	}
}

package event

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestMain fails the package if goroutines started by its tests outlive
// them: every UA, Manager and timer must stop what it started.
func TestMain(m *testing.M) {
	base := len(goroutines())
	code := m.Run()
	deadline := time.Now().Add(5 * time.Second)
	for len(goroutines()) > base && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // polling for exits, not for sync
	}
	if left := goroutines(); len(left) > base && code == 0 {
		fmt.Fprintf(os.Stderr, "%d goroutines outlived the tests:\n%s\n", len(left)-base, strings.Join(left, "\n\n"))
		code = 1
	}
	os.Exit(code)
}

// goroutines returns the stacks of the running goroutines, less those of
// the runtime and the testing package's own machinery (the signal handler
// a fuzzing run starts).
func goroutines() []string {
	buf := make([]byte, 1<<20)
	var out []string
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		if strings.Contains(g, "os/signal.") || strings.Contains(g, "testing.(*M).startAlarm") {
			continue
		}
		out = append(out, g)
	}
	return out
}

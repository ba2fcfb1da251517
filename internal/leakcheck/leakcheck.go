// Package leakcheck fails a test binary whose tests leave goroutines
// running: every UA, Manager, listener and timer a test starts must be
// stopped by the time it ends. Use it from a package's TestMain:
//
//	func TestMain(m *testing.M) { leakcheck.Main(m) }
package leakcheck

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Grace is how long Main waits for goroutines that are on their way out
// (a reader returning from a closed socket) before it calls them leaked.
const Grace = 5 * time.Second

// Main runs the tests, then fails the binary if more goroutines run than
// before them, printing the stacks of the ones left.
func Main(m *testing.M) { os.Exit(run(m, os.Stderr, Grace)) }

func run(m interface{ Run() int }, w io.Writer, grace time.Duration) int {
	base := len(Goroutines())
	code := m.Run()
	deadline := time.Now().Add(grace)
	for len(Goroutines()) > base && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // polling for exits, not for sync
	}
	if left := Goroutines(); len(left) > base && code == 0 {
		fmt.Fprintf(w, "%d goroutines outlived the tests:\n%s\n", len(left)-base, strings.Join(left, "\n\n"))
		code = 1
	}
	return code
}

// Goroutines returns the stacks of the running goroutines, less those of
// the runtime and the testing package's own machinery (the signal handler
// a fuzzing run starts, the timeout alarm, and the runtime's cleanup and
// finalizer goroutines, which show up while they run one: the unique
// package that net/netip uses for IPv6 zones queues cleanups at GC).
func Goroutines() []string {
	buf := make([]byte, 1<<20)
	var out []string
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		if strings.Contains(g, "os/signal.") || strings.Contains(g, "testing.(*M).startAlarm") ||
			strings.Contains(g, "runtime.runCleanups") || strings.Contains(g, "runtime.runFinalizers") {
			continue
		}
		out = append(out, g)
	}
	return out
}

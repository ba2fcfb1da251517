package event

import (
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"
)

// TestMain fails the package if goroutines started by its tests outlive
// them: every UA, Manager and timer must stop what it started.
func TestMain(m *testing.M) {
	base := runtime.NumGoroutine()
	code := m.Run()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // polling for exits, not for sync
	}
	if n := runtime.NumGoroutine(); n > base && code == 0 {
		buf := make([]byte, 1<<20)
		fmt.Fprintf(os.Stderr, "%d goroutines outlived the tests:\n%s\n", n-base, buf[:runtime.Stack(buf, true)])
		code = 1
	}
	os.Exit(code)
}

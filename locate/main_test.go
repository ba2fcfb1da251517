package locate

import (
	"testing"

	"github.com/sipxfer/sipxfer/internal/leakcheck"
)

// TestMain fails the package if goroutines started by its tests (the DNS
// servers, a query's cancellation hook) outlive them.
func TestMain(m *testing.M) { leakcheck.Main(m) }

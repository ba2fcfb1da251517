package fuzz

import (
	"testing"

	"github.com/sipxfer/sipxfer/internal/leakcheck"
)

// TestMain fails the package if goroutines started by its tests outlive
// them.
func TestMain(m *testing.M) { leakcheck.Main(m) }

// The package's TestMain: no goroutine may outlive the tests.

package main

import (
	"testing"

	"github.com/sipxfer/sipxfer/internal/leakcheck"
)

// TestMain fails the package if goroutines started by its tests (the UAs
// they run in process) outlive them.
func TestMain(m *testing.M) { leakcheck.Main(m) }

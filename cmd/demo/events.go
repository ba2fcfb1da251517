package main

import "errors"

// runEvents is "demo events": a subscriber or notifier for interop tests.
// Being written; see the open issue.
func runEvents(args []string) error {
	return errors.New("events: not built yet")
}

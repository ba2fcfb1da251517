// Package ratelog bounds how often a kind of warning is logged, so that a
// flood of bad or excess requests cannot flood the log: one warning per
// interval gets through, and it carries the count of those held back
// since the previous one.
package ratelog

import (
	"sync"
	"time"
)

// Interval is the least time between two warnings of one kind, on the
// clock of the layer logging them.
const Interval = 10 * time.Second

// Limiter lets one warning through per Interval. The zero value is ready;
// a Limiter is safe for concurrent use.
type Limiter struct {
	mu         sync.Mutex
	last       time.Time
	suppressed int
}

// Allow reports whether a warning at now may be logged and, if so, how
// many were held back since the last one that was.
func (l *Limiter) Allow(now time.Time) (ok bool, suppressed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.last.IsZero() && now.Sub(l.last) < Interval {
		l.suppressed++
		return false, 0
	}
	suppressed = l.suppressed
	l.last, l.suppressed = now, 0
	return true, suppressed
}

package ratelog

import (
	"testing"
	"time"
)

func TestAllow(t *testing.T) {
	var l Limiter
	t0 := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	for _, st := range []struct {
		at         time.Duration
		ok         bool
		suppressed int
	}{
		{0, true, 0},
		{time.Second, false, 0},
		{9 * time.Second, false, 0},
		{10 * time.Second, true, 2}, // a full Interval after the first
		{15 * time.Second, false, 0},
		{time.Hour, true, 1},
		{time.Hour + Interval, true, 0},
	} {
		ok, n := l.Allow(t0.Add(st.at))
		if ok != st.ok || n != st.suppressed {
			t.Errorf("at %v: Allow = %v, %d; want %v, %d", st.at, ok, n, st.ok, st.suppressed)
		}
	}
}

package transport

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// warnInterval is the least time between two warnings of one kind.
const warnInterval = 10 * time.Second

// Kinds of rate-limited warnings.
const (
	warnGarbage = iota
	warnBadRequest
	warnBadResponse
	warnForeignResponse
	warnFraming
	warnRefused
	warnRefusedPerIP
	warnFirstMessage
	warnSlowMessage
	warnAccept
	warnRead
	numWarnKinds
)

// warnLimiter lets through one warning of each kind per warnInterval, so
// that a flood of bad packets cannot flood the log; the next warning let
// through says how many were suppressed.
type warnLimiter struct {
	mu    sync.Mutex
	kinds [numWarnKinds]struct {
		last       time.Time
		suppressed int
	}
}

// warn logs msg at level Warn unless a warning of the same kind was logged
// less than warnInterval ago (on the Layer's Clock).
func (l *Layer) warn(kind int, msg string, remote Addr, err error) {
	now := l.cfg.Clock.Now()
	w := &l.warns
	w.mu.Lock()
	k := &w.kinds[kind]
	if !k.last.IsZero() && now.Sub(k.last) < warnInterval {
		k.suppressed++
		w.mu.Unlock()
		return
	}
	suppressed := k.suppressed
	k.last, k.suppressed = now, 0
	w.mu.Unlock()

	attrs := make([]slog.Attr, 0, 3)
	if remote.IsValid() {
		attrs = append(attrs, slog.String("remote", remote.String()))
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	if suppressed > 0 {
		attrs = append(attrs, slog.Int("suppressed", suppressed))
	}
	l.cfg.Logger.LogAttrs(context.Background(), slog.LevelWarn, msg, attrs...)
}

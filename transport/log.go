package transport

import (
	"context"
	"log/slog"

	"github.com/sipxfer/sipxfer/internal/ratelog"
)

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

// warnLimiters holds one limiter per kind of warning.
type warnLimiters [numWarnKinds]ratelog.Limiter

// warn logs msg at level Warn unless a warning of the same kind was logged
// less than ratelog.Interval ago (on the Layer's Clock): a flood of bad
// packets must not flood the log.
func (l *Layer) warn(kind int, msg string, remote Addr, err error) {
	ok, suppressed := l.warns[kind].Allow(l.cfg.Clock.Now())
	if !ok {
		return
	}
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

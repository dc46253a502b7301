package caddymodule

import (
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/passgate/caddy-passgate/verify"
)

// auditLog writes the engine's events to the "http.handlers.passgate.audit"
// logger, so that operators can route them apart; a failed delivery goes
// to the error log instead. Each line carries the client IP and, once
// known, the user id; none ever carries a code, link, token or cookie.
type auditLog struct{ audit, errors *zap.Logger }

func newAuditLog(logger *zap.Logger) auditLog {
	return auditLog{audit: logger.Named("audit"), errors: logger}
}

func (a auditLog) Event(ev verify.Event) {
	if ev.Kind == verify.EventDeliveryFailed {
		a.errors.Error("delivery failed", zap.String("channel", ev.Channel), zap.String("sender", ev.Sender),
			zap.String("client_ip", ev.Caller.ClientIP), zap.Error(ev.Err))
		return
	}
	c := a.audit.Check(zapcore.InfoLevel, string(ev.Kind))
	if c == nil {
		return
	}
	fields := []zap.Field{zap.String("door", ev.Caller.Door), zap.String("client_ip", ev.Caller.ClientIP)}
	add := func(key, v string) {
		if v != "" {
			fields = append(fields, zap.String(key, v))
		}
	}
	add("client", ev.Caller.Client)
	add("channel", ev.Channel)
	add("user_id", ev.UserID)
	add("method", ev.Method)
	add("limit", ev.Limit)
	add("scope", string(ev.Scope))
	switch ev.Kind {
	case verify.EventSignInFailed:
		fields = append(fields, zap.String("reason", ev.Err.Error()))
	case verify.EventRateLimited:
		fields = append(fields, zap.Duration("retry_after", ev.RetryAfter))
	case verify.EventSignedOut, verify.EventSessionRevoked, verify.EventSessionsEnded, verify.EventUserBlocked:
		fields = append(fields, zap.Int("revoked", ev.Revoked))
	case verify.EventAccessDenied:
		fields = append(fields, zap.String("path", ev.Path), zap.Strings("required", ev.Required))
	case verify.EventStoreDown:
		fields = append(fields, zap.NamedError("reason", ev.Err))
	}
	c.Write(fields...)
}

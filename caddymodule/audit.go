package caddymodule

import (
	"errors"
	"net/http"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/passgate/caddy-passgate/verify"
)

// Audit events, written by the "http.handlers.passgate.audit" logger so
// that operators can route them apart. Each carries the client IP and,
// once known, the user id; none ever carries a code, link, token or cookie.
const (
	auditStarted     = "sign-in started"
	auditSent        = "code sent"
	auditSignedIn    = "signed in"
	auditFailed      = "sign-in failed"
	auditRateLimited = "rate limited"
	auditSignedOut   = "signed out"
	auditTokenReuse  = "refresh token reused: session revoked"
)

func (p *Passgate) audit(r *http.Request, event string, fields ...zap.Field) {
	if c := p.auditLog.Check(zapcore.InfoLevel, event); c != nil {
		c.Write(append(fields, zap.String("client_ip", clientIP(r)))...)
	}
}

// auditRefusal records why a start or a check was refused: a rate limit
// as its own event, the rest as a failed sign-in. Store and delivery
// failures are the error log's business.
func (p *Passgate) auditRefusal(r *http.Request, err error, fields ...zap.Field) {
	var limited *verify.RateLimitedError
	switch {
	case errors.As(err, &limited):
		p.audit(r, auditRateLimited, append(fields, zap.String("limit", limited.Limit),
			zap.Duration("retry_after", limited.RetryAfter))...)
	case isRefusal(err):
		p.audit(r, auditFailed, append(fields, zap.String("reason", err.Error()))...)
	}
}

func isRefusal(err error) bool {
	var wrong *verify.WrongCodeError
	return errors.As(err, &wrong) || errors.Is(err, verify.ErrAttemptNotFound) ||
		errors.Is(err, verify.ErrTooManyAttempts)
}

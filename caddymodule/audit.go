package caddymodule

import (
	"context"
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

// deliveryClientKey holds, in the context a start hands to its delivery,
// the client IP for the delivery's audit event.
type deliveryClientKey struct{}

// delivered hears the end of each background delivery
// (verify.Service.OnDelivery): a message that went out is the "code sent"
// event; one that did not is an error for the operator, whose text holds
// neither the code nor the link.
func (p *Passgate) delivered(ctx context.Context, channel string, err error) {
	ip, _ := ctx.Value(deliveryClientKey{}).(string)
	if err != nil {
		p.logger.Error("delivery failed", zap.String("channel", channel), zap.String("client_ip", ip), zap.Error(err))
		return
	}
	if c := p.auditLog.Check(zapcore.InfoLevel, auditSent); c != nil {
		c.Write(zap.String("channel", channel), zap.String("client_ip", ip))
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

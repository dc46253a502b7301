package verify

import (
	"context"

	"go.uber.org/zap"
)

// LogSender "delivers" a code and its magic link by writing them to the
// log. It exists for development and demos; it is the only place a code or
// link is ever logged.
type LogSender struct {
	Logger *zap.Logger
}

// Send implements Sender.
func (l LogSender) Send(_ context.Context, m Message) error {
	l.Logger.Info("sign-in code (log delivery: for development only)",
		zap.String("channel", m.Channel),
		zap.String("to", m.To),
		zap.String("code", m.Code),
		zap.String("link", m.Link),
		zap.Time("expires_at", m.ExpiresAt),
	)
	return nil
}

// SenderName implements NamedSender.
func (LogSender) SenderName() string { return "log" }

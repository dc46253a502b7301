package verify

import "context"

// NoJitter makes e's deliveries begin without their random pause, for
// tests that make many and wait for each.
func NoJitter(e *Engine) { e.noJitter = true }

// RecheckBlocked is the check SignIn makes once its session is stored.
func RecheckBlocked(e *Engine, ctx context.Context, s Session) error { return e.recheckBlocked(ctx, s) }

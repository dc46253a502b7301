package caddymodule

import (
	"net/http"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/passgate/caddy-passgate/sessionstore"
)

// signIn turns a consumed attempt into a signed-in user: it records the
// sign-in, creates a new session and sets its cookie. A right code
// (/verify) and a magic link (/magic) both end here, so they give the
// same user, roles, session and cookie.
func (p *Passgate) signIn(w http.ResponseWriter, r *http.Request, attempt sessionstore.Attempt, how string) (sessionstore.User, sessionstore.Session, *apiError) {
	ctx := r.Context()
	roles := p.verifier.Policy.RolesFor(attempt.Channel, attempt.Identifier)
	if roles == nil {
		roles = []string{}
	}
	user, err := p.store.RecordSignIn(ctx, attempt.Channel, attempt.Identifier, uuid.NewString(), roles, now().Truncate(time.Millisecond))
	if err != nil {
		return user, sessionstore.Session{}, p.verifyError(err)
	}
	secret, sess, err := p.sessions.Create(ctx, user)
	if err != nil {
		return user, sess, p.verifyError(err)
	}
	if err := p.cookie.set(w, secret); err != nil {
		return user, sess, p.verifyError(err)
	}
	p.audit(r, auditSignedIn, zap.String("user_id", user.ID), zap.String("method", how))
	return user, sess, nil
}

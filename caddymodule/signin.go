package caddymodule

import (
	"net/http"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/passgate/caddy-passgate/sessionstore"
)

// signInMethod is how a user proved themselves: its name for the audit
// log and its amr claim for tokens.
type signInMethod struct {
	name string
	amr  []string
}

var (
	byCode = signInMethod{"code", amrCode}
	byLink = signInMethod{"link", amrMagicLink}
)

// signIn turns a consumed attempt into a signed-in user and answers: it
// records the sign-in, creates a new session, sets its cookie, then sends
// a form 303 to the attempt's redirect_to and a JSON client the user, the
// session and, if asked, tokens. A right code (/verify) and a magic link
// (/magic) both end here, so they give the same user, roles, session,
// cookie and answer.
func (p *Passgate) signIn(w http.ResponseWriter, r *http.Request, attempt sessionstore.Attempt, m signInMethod, isForm, wantTokens bool) *apiError {
	ctx := r.Context()
	roles := p.verifier.Policy.RolesFor(attempt.Channel, attempt.Identifier)
	if roles == nil {
		roles = []string{}
	}
	user, err := p.store.RecordSignIn(ctx, attempt.Channel, attempt.Identifier, uuid.NewString(), roles, now().Truncate(time.Millisecond))
	if err != nil {
		return p.verifyError(err)
	}
	secret, sess, err := p.sessions.Create(ctx, user)
	if err != nil {
		return p.verifyError(err)
	}
	if err := p.cookie.set(w, secret); err != nil {
		return p.verifyError(err)
	}
	p.audit(r, auditSignedIn, zap.String("user_id", user.ID), zap.String("method", m.name))

	redirectTo := p.safeRedirect(attempt.RedirectTo)
	if isForm {
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, redirectTo, http.StatusSeeOther)
		return nil
	}
	out := map[string]any{
		"user":        userJSON(user),
		"session":     sessionJSON(sess),
		"redirect_to": redirectTo,
	}
	if wantTokens {
		toks, err := p.issueTokens(ctx, sess, m.amr)
		if err != nil {
			return p.verifyError(err)
		}
		toks.fields(out)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

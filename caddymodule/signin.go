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
	// Tokens before the cookie: an error answer must not sign the browser in.
	var toks *tokenResponse
	if wantTokens && !isForm {
		t, err := p.issueTokens(ctx, sess, m.amr)
		if err != nil {
			return p.verifyError(err)
		}
		toks = &t
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
	writeJSON(w, http.StatusOK, signInResponse{
		User:          userJSON(user),
		Session:       sessionJSON(sess),
		RedirectTo:    redirectTo,
		tokenResponse: toks,
	})
	return nil
}

// signInResponse is a JSON client's answer to a sign-in; the token fields
// are there only when tokens were asked for (a nil embedded pointer adds
// none).
type signInResponse struct {
	User       userBody       `json:"user"`
	Session    map[string]any `json:"session"`
	RedirectTo string         `json:"redirect_to"`
	*tokenResponse
}

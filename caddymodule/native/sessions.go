package native

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/passgate/caddy-passgate/internal/httpkit"
	"github.com/passgate/caddy-passgate/verify"
	"github.com/passgate/caddy-passgate/verify/device"
)

// sessionRoute reads "sessions/<id>" (DELETE ends it) and
// "sessions/<id>/revoke" (POST ends it, for forms and clients without
// DELETE). The id is a session's public id (a UUID); anything else is no
// route.
func sessionRoute(route string) (id string, revoke, ok bool) {
	rest, ok := strings.CutPrefix(route, "sessions/")
	if !ok {
		return "", false, false
	}
	id, revoke = strings.CutSuffix(rest, "/revoke")
	if len(id) != 36 || uuid.Validate(id) != nil {
		return "", false, false
	}
	return id, revoke, true
}

// listedSession is one of the user's sessions as the list shows it: its
// public id (never its secret), when it was made and last used (to within
// a minute: use is written back at most that often), where it signed in
// from, and whether it is the one asking.
type listedSession struct {
	ID         string    `json:"id"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	// Device is readable ("Firefox on Linux"); Network is the client's
	// address made coarse ("203.0.113.0/24"), "" if it was not known.
	Device  string `json:"device"`
	Network string `json:"network"`
	Current bool   `json:"current"`
}

// listSessions is the live sessions of the user whose session is cur,
// this one marked.
func (d *Door) listSessions(r *http.Request, cur verify.Session) ([]listedSession, error) {
	all, err := d.env.Engine.Sessions(r.Context(), cur.UserID)
	if err != nil {
		return nil, err
	}
	out := make([]listedSession, 0, len(all))
	for _, s := range all {
		out = append(out, listedSession{
			ID: s.ID, CreatedAt: s.CreatedAt.UTC(), LastUsedAt: s.LastSeenAt.UTC(), ExpiresAt: s.ExpiresAt.UTC(),
			Device: device.Name(s.Device), Network: device.Network(s.Network), Current: s.ID == cur.ID,
		})
	}
	return out, nil
}

// authenticated answers for a request that proves no session (401, with
// the bearer challenge for a refused token) or meets a store failure
// (503), and says whether it did.
func (d *Door) unauthenticated(w http.ResponseWriter, err error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, verify.ErrInvalidToken):
		BearerChallenge(w)
	case errors.Is(err, verify.ErrUnauthenticated):
		writeAPIError(w, newAPIError(http.StatusUnauthorized, errUnauthorized, "not signed in"))
	default:
		d.storeFailed(w, err)
	}
	return true
}

// serveSessions lists the signed-in user's live sessions.
func (d *Door) serveSessions(w http.ResponseWriter, r *http.Request) {
	cur, err := d.env.Engine.Authenticate(r.Context(), d.env.Session.Credential(r))
	if d.unauthenticated(w, err) {
		return
	}
	list, err := d.listSessions(r, cur)
	if err != nil {
		d.storeFailed(w, err)
		return
	}
	httpkit.WriteJSON(w, http.StatusOK, map[string]any{"sessions": list})
}

// serveRevoke ends one of the signed-in user's sessions: DELETE
// sessions/<id>, or POST sessions/<id>/revoke (a form, from the signed-in
// page, is answered with a 303 back to it). A session that is not the
// user's is 404, as one that does not exist: nothing tells them apart.
// Ending the session that asks signs it out.
func (d *Door) serveRevoke(w http.ResponseWriter, r *http.Request, id string) {
	isForm := false
	if r.Method == http.MethodPost {
		var apiErr *apiError
		if isForm, apiErr = readBody(w, r, &struct{}{}); apiErr != nil {
			writeAPIError(w, apiErr)
			return
		}
	}
	back := d.env.Redirects.Safe(r.PostForm.Get("redirect_to"))
	cred := d.env.Session.Credential(r)
	cur, err := d.env.Engine.Authenticate(r.Context(), cred)
	if isForm && errors.Is(err, verify.ErrUnauthenticated) {
		d.redirectToPage(w, r, back, nil)
		return
	}
	if d.unauthenticated(w, err) {
		return
	}
	err = d.env.Engine.Revoke(r.Context(), cur.UserID, id, d.env.Caller(r))
	switch {
	case errors.Is(err, verify.ErrUnauthenticated) && isForm:
		// A page older than the list: say so on the page again.
		d.redirectToPage(w, r, back, url.Values{"ended": {"gone"}})
		return
	case errors.Is(err, verify.ErrUnauthenticated):
		writeAPIError(w, newAPIError(http.StatusNotFound, errNotFound, "no such session"))
		return
	case err != nil:
		d.storeFailed(w, err)
		return
	}
	notice := url.Values{"ended": {"1"}}
	if id == cur.ID {
		notice = url.Values{"signed_out": {"1"}}
		if !cred.IsBearer {
			d.env.Session.Clear(w)
		}
	}
	if isForm {
		d.redirectToPage(w, r, back, notice)
		return
	}
	httpkit.WriteJSON(w, http.StatusOK, map[string]any{"revoked": 1})
}

// redirectToPage sends a form's browser back to the sign-in page, which
// shows the sessions left (or the sign-in form), with q (the notice the
// page reads) and the page's redirect_to.
func (d *Door) redirectToPage(w http.ResponseWriter, r *http.Request, redirectTo string, q url.Values) {
	if q == nil {
		q = url.Values{}
	}
	if redirectTo != "/" {
		q.Set("redirect_to", redirectTo)
	}
	target := d.env.Mount + "/login"
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// pageSession is one session on the signed-in page.
type pageSession struct {
	ID       string
	Device   string
	Network  string
	Created  string // "25 Nov 2026, 17:37 UTC"
	LastUsed string
	Current  bool
}

// pageSessions is the list as the signed-in page shows it.
func pageSessions(list []listedSession) []pageSession {
	const layout = "2 Jan 2006, 15:04 MST"
	out := make([]pageSession, len(list))
	for i, s := range list {
		out[i] = pageSession{ID: s.ID, Device: s.Device, Network: s.Network,
			Created: s.CreatedAt.Format(layout), LastUsed: s.LastUsedAt.Format(layout), Current: s.Current}
	}
	return out
}

// endedNotice is what the page says after a form ended sessions.
func endedNotice(q url.Values) string {
	if q.Get("ended") == "gone" {
		return "That session had already ended."
	}
	n, err := strconv.Atoi(q.Get("ended"))
	switch {
	case err != nil || n < 0:
		return ""
	case n == 0:
		return "There were no other sessions to end."
	case n == 1:
		return "1 session was ended."
	}
	return strconv.Itoa(n) + " sessions were ended."
}

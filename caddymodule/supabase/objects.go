package supabase

import (
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/passgate/caddy-passgate/verify"
	"github.com/passgate/caddy-passgate/verify/tokens"
)

// audience and role of every signed-in user's token, as GoTrue's.
const (
	audience = "authenticated"
	role     = "authenticated"
)

// attemptData is the door's state of an attempt (verify.StartRequest.Data):
// the PKCE challenge sent with /otp and the sign-up metadata (`data`).
type attemptData struct {
	Challenge string          `json:"cc,omitempty"`
	Method    string          `json:"ccm,omitempty"` // "s256" or "plain"
	Metadata  json.RawMessage `json:"md,omitempty"`
}

func (a attemptData) encode() []byte {
	if a.Challenge == "" && len(a.Metadata) == 0 {
		return nil
	}
	b, _ := json.Marshal(a) // strings and a checked JSON object
	return b
}

// decodeAttemptData reads what encode wrote; an attempt another door
// started has none.
func decodeAttemptData(b []byte) attemptData {
	var a attemptData
	if len(b) > 0 && json.Unmarshal(b, &a) != nil {
		return attemptData{}
	}
	return a
}

func (a attemptData) pkce() bool { return a.Challenge != "" }

// sessionBody is GoTrue's session: the answer of /verify and /token.
type sessionBody struct {
	AccessToken  string   `json:"access_token"`
	TokenType    string   `json:"token_type"`
	ExpiresIn    int      `json:"expires_in"`
	ExpiresAt    int64    `json:"expires_at"`
	RefreshToken string   `json:"refresh_token"`
	User         userBody `json:"user"`
}

// userBody is GoTrue's user (models.User's JSON names).
type userBody struct {
	ID               string          `json:"id"`
	Aud              string          `json:"aud"`
	Role             string          `json:"role"`
	Email            string          `json:"email"`
	EmailConfirmedAt *time.Time      `json:"email_confirmed_at,omitempty"`
	Phone            string          `json:"phone"`
	PhoneConfirmedAt *time.Time      `json:"phone_confirmed_at,omitempty"`
	ConfirmedAt      *time.Time      `json:"confirmed_at,omitempty"`
	LastSignInAt     *time.Time      `json:"last_sign_in_at,omitempty"`
	AppMetadata      appMetadata     `json:"app_metadata"`
	UserMetadata     json.RawMessage `json:"user_metadata"`
	Identities       []any           `json:"identities"`
	CreatedAt        time.Time       `json:"created_at"`
	UpdatedAt        time.Time       `json:"updated_at"`
	IsAnonymous      bool            `json:"is_anonymous"`
}

// appMetadata is what the user cannot change: how they sign in, and the
// roles passgate's policy gives them.
type appMetadata struct {
	Provider  string   `json:"provider"`
	Providers []string `json:"providers"`
	Roles     []string `json:"roles"`
}

func appMetadataOf(email string, roles []string) appMetadata {
	provider := "email"
	if email == "" {
		provider = "phone"
	}
	if roles == nil {
		roles = []string{}
	}
	return appMetadata{Provider: provider, Providers: []string{provider}, Roles: roles}
}

// userJSON is u as GoTrue shows it, with roles the policy gives now. A
// user exists only once they have proved their address, so it is
// confirmed since it was made.
func userJSON(u verify.User, roles []string) userBody {
	created, last := u.CreatedAt.UTC(), u.LastSignInAt.UTC()
	b := userBody{
		ID: u.ID, Aud: audience, Role: role, Email: u.Email, Phone: gotruePhone(u.Phone),
		ConfirmedAt: &created, LastSignInAt: &last,
		AppMetadata: appMetadataOf(u.Email, roles), UserMetadata: metadataOf(u),
		Identities: []any{}, CreatedAt: created, UpdatedAt: last,
	}
	if u.Email != "" {
		b.EmailConfirmedAt = &created
	}
	if u.Phone != "" {
		b.PhoneConfirmedAt = &created
	}
	return b
}

func metadataOf(u verify.User) json.RawMessage {
	if len(u.Metadata) == 0 {
		return json.RawMessage(`{}`)
	}
	return json.RawMessage(u.Metadata)
}

// gotruePhone is a phone number as GoTrue writes it: E.164 without "+".
func gotruePhone(p string) string { return strings.TrimPrefix(p, "+") }

// profileClaims are GoTrue's claims that follow from the session (the
// token profile's); tokenClaims adds those that need the user's record.
// iss, sub, aud, exp and iat are passgate's own, as GoTrue names them.
func profileClaims(id tokens.Identity) map[string]any {
	return map[string]any{
		"role":         role,
		"aal":          "aal1",
		"session_id":   id.SessionID,
		"is_anonymous": false,
		"email":        id.Email,
		"phone":        gotruePhone(id.Phone),
		"app_metadata": appMetadataOf(id.Email, slices.Clone(id.Roles)),
	}
}

// amrEntry is one of GoTrue's amr claims: how and when the user proved
// themselves.
type amrEntry struct {
	Method    string `json:"method"`
	Timestamp int64  `json:"timestamp"`
}

func tokenClaims(s verify.Session, u verify.User, amr []string) map[string]any {
	method := "otp"
	if slices.Contains(amr, "email") { // the engine's amr of a magic link
		method = "magiclink"
	}
	return map[string]any{
		"user_metadata": metadataOf(u),
		"amr":           []amrEntry{{Method: method, Timestamp: s.CreatedAt.Unix()}},
	}
}

// session issues an access token for s and answers it with the refresh
// token and the user.
func (d *Door) session(s verify.Session, u verify.User, amr []string, refresh string) (sessionBody, error) {
	at, err := d.env.Engine.IssueAccessWithClaims(d.profile, s, amr, tokenClaims(s, u, amr))
	if err != nil {
		return sessionBody{}, err
	}
	return sessionBody{
		AccessToken:  at.Token,
		TokenType:    "bearer",
		ExpiresIn:    int(at.TTL / time.Second),
		ExpiresAt:    at.ExpiresAt.Unix(),
		RefreshToken: refresh,
		User:         userJSON(u, s.Roles),
	}, nil
}

package wacht

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"go.uber.org/zap"

	"github.com/passgate/caddy-passgate/internal/clock"
	"github.com/passgate/caddy-passgate/verify"
)

// The strategies of a passwordless sign-in.
const (
	strategyEmailOTP  = "email_otp"
	strategyPhoneOTP  = "phone_otp"
	strategyMagicLink = "magic_link"
)

// channelOf is the channel a strategy sends over.
func channelOf(strategy string) string {
	if strategy == strategyPhoneOTP {
		return verify.ChannelPhone
	}
	return verify.ChannelEmail
}

// credentials are what the request may prove a passgate session with:
// passgate's own cookie (or a bearer token) first, as the gate reads them,
// and __session first. The two differ when the browser holds both cookies
// and the first has ended: a sign-in or sign-out here must see the other.
func (d *Door) credentials(r *http.Request) []verify.Credential {
	own, named := d.env.Session.Credential(r), d.session.Credential(r)
	if own.IsBearer || own == named {
		return []verify.Credential{own}
	}
	return []verify.Credential{own, named}
}

// signedIn returns the live passgate session the request proves, nil if
// there is none. Only a store failure is an error.
func (d *Door) signedIn(r *http.Request) (*verify.Session, *apiError) {
	for _, c := range d.credentials(r) {
		s, err := d.env.Engine.Authenticate(r.Context(), c)
		switch {
		case err == nil:
			return &s, nil
		case !errors.Is(err, verify.ErrUnauthenticated):
			return nil, d.engineError(err)
		}
	}
	return nil, nil
}

// serveSignIn answers POST /auth/signin: a new attempt in the browser's
// session, with nothing sent yet (prepare-verification sends). Every
// address gets the same answer, allowed or not, known or not: nothing
// here even looks.
func (d *Door) serveSignIn(w http.ResponseWriter, r *http.Request) {
	f, e := readFields(w, r)
	if e != nil {
		writeError(w, e, nil)
		return
	}
	strategy := f.get("strategy")
	switch strategy {
	case "":
		writeError(w, newError(http.StatusBadRequest, codeStrategyRequired, "A strategy is required: email_otp, phone_otp or magic_link."), nil)
		return
	case strategyEmailOTP, strategyPhoneOTP, strategyMagicLink:
	default:
		writeError(w, newError(http.StatusBadRequest, codeBadBody,
			"The strategy "+quote(strategy)+" is not available: sign in with email_otp, phone_otp or magic_link."), nil)
		return
	}
	d.startAttempt(w, r, false, strategy, addressOf(f, strategy, "phone"))
}

// serveSignUp answers POST /auth/signup: a sign-up attempt by email (or by
// phone_number without one). passgate keeps no names or passwords: other
// fields are ignored. An address that already has an account is not told
// apart: its verification signs that account in.
func (d *Door) serveSignUp(w http.ResponseWriter, r *http.Request) {
	f, e := readFields(w, r)
	if e != nil {
		writeError(w, e, nil)
		return
	}
	strategy := strategyEmailOTP
	if f.get("email") == "" && f.get("phone_number", "phone") != "" {
		strategy = strategyPhoneOTP
	}
	d.startAttempt(w, r, true, strategy, addressOf(f, strategy, "phone_number", "phone"))
}

// addressOf is the address the strategy needs, from its field; a phone
// number without its + may come with phone_country_code, as the docs show.
func addressOf(f fields, strategy string, phoneFields ...string) string {
	if channelOf(strategy) == verify.ChannelEmail {
		return f.get("email")
	}
	phone := strings.TrimSpace(f.get(phoneFields...))
	if cc := strings.TrimPrefix(strings.TrimSpace(f.get("phone_country_code")), "+"); phone != "" && cc != "" && !strings.HasPrefix(phone, "+") {
		phone = "+" + cc + phone
	}
	return phone
}

func (d *Door) startAttempt(w http.ResponseWriter, r *http.Request, signUp bool, strategy, address string) {
	channel := channelOf(strategy)
	if address == "" {
		field := "email"
		if channel == verify.ChannelPhone {
			field = "phone"
			if signUp {
				field = "phone_number"
			}
		}
		writeError(w, newError(http.StatusBadRequest, codeRequiredField, "The field "+field+" is required."), nil)
		return
	}
	if !d.env.Engine.ChannelConfigured(channel) {
		writeError(w, d.engineError(verify.ErrChannelNotConfigured), nil)
		return
	}
	normalised, err := normalize(channel, address)
	if err != nil {
		writeError(w, d.engineError(err), nil)
		return
	}
	// One account per browser at a time (multi_session_support is off).
	signedIn, e := d.signedIn(r)
	if e != nil {
		writeError(w, e, nil)
		return
	}
	st, _ := d.browser.load(r)
	if signedIn != nil {
		writeError(w, newError(http.StatusBadRequest, codeAlreadySignedIn, "You are already signed in. Sign out first."), sessionOf(st, signedIn))
		return
	}
	now := clock.Now()
	st.add(attempt{ID: newID(), SignUp: signUp, Channel: channel, Address: normalised, Method: strategy,
		Created: now.UnixMilli(), Expires: now.Add(d.env.Engine.CodeTTL()).UnixMilli()})
	d.saveAndAnswer(w, st, nil)
}

func normalize(channel, address string) (string, error) {
	if channel == verify.ChannelPhone {
		return verify.NormalizePhone(address)
	}
	return verify.NormalizeEmail(address)
}

// saveAndAnswer stores the browser state and answers its Session.
func (d *Door) saveAndAnswer(w http.ResponseWriter, st *browserState, signedIn *verify.Session) {
	if err := d.browser.save(w, st); err != nil {
		writeError(w, d.engineError(err), nil)
		return
	}
	sess := sessionOf(st, signedIn)
	writeOK(w, sess, sess)
}

// attemptOf finds the attempt a prepare or a verification names: by
// attempt_identifier and identifier_type (the client), or by
// signin_attempt_id or signup_attempt_id (the docs).
func (d *Door) attemptOf(r *http.Request, f fields) (*browserState, *attempt, *apiError) {
	signUp := false
	switch f.query.Get("identifier_type") {
	case "", "signin":
	case "signup":
		signUp = true
	default:
		return nil, nil, newError(http.StatusBadRequest, codeBadBody, `identifier_type must be "signin" or "signup".`)
	}
	id := f.get("attempt_identifier")
	inID, upID := f.get("signin_attempt_id"), f.get("signup_attempt_id")
	switch {
	case inID != "" && upID != "":
		return nil, nil, newError(http.StatusBadRequest, codeBadBody, "Send signin_attempt_id or signup_attempt_id, not both.")
	case id == "" && inID != "":
		id = inID
	case id == "" && upID != "":
		id, signUp = upID, true
	}
	if id == "" {
		return nil, nil, newError(http.StatusBadRequest, codeRequiredField, "The sign-in attempt's id is required (attempt_identifier).")
	}
	st, _ := d.browser.load(r)
	if !validID(id) {
		return st, nil, errNoAttempt
	}
	a := st.find(id, signUp)
	if a == nil {
		return st, nil, errNoAttempt
	}
	return st, a, nil
}

// prepareData is what prepare-verification answers (the client ignores it).
type prepareData struct {
	OTPSent            bool   `json:"otp_sent"`
	MaskedEmail        string `json:"masked_email,omitempty"`
	MaskedPhone        string `json:"masked_phone,omitempty"`
	VerificationMethod string `json:"verification_method"`
}

// servePrepare answers POST /auth/prepare-verification: the engine starts
// an attempt for the Wacht attempt's address and sends its code, and with
// magic_link its link too. Asked again, it sends a new code (the resend
// cooldown applies) and only the newest works. A disallowed address gets
// the same answer, and nothing is sent.
func (d *Door) servePrepare(w http.ResponseWriter, r *http.Request) {
	f, e := readFields(w, r)
	if e != nil {
		writeError(w, e, nil)
		return
	}
	st, a, e := d.attemptOf(r, f)
	if e != nil {
		writeError(w, e, sessionOrNil(st))
		return
	}
	if a.Done {
		writeError(w, errAttemptDone, sessionOf(st, nil))
		return
	}
	strategy := f.get("strategy")
	if strategy == "" {
		switch f.get("method") { // the docs' JSON variant
		case "":
			strategy = a.Method
		case "email":
			strategy = strategyEmailOTP
			if a.Channel == verify.ChannelEmail {
				strategy = a.Method // email_otp or magic_link, as asked at sign-in
			}
		case "sms", "phone":
			strategy = strategyPhoneOTP
		default:
			writeError(w, newError(http.StatusBadRequest, codeBadBody, `method must be "email" or "sms".`), sessionOf(st, nil))
			return
		}
	}
	if _, ok := stepOf[strategy]; !ok || channelOf(strategy) != a.Channel {
		writeError(w, newError(http.StatusBadRequest, codeStrategyRequired,
			"The strategy "+quote(strategy)+" does not fit this attempt's "+a.Channel+"."), sessionOf(st, nil))
		return
	}
	redirectTo := d.env.Redirects.Safe(f.get("redirect_uri"))
	sr := verify.StartRequest{Channel: a.Channel, Identifier: a.Address, RedirectTo: redirectTo,
		CreateUser: true, Caller: d.env.Caller(r)}
	if strategy == strategyMagicLink {
		if base := d.env.LinkBase(r, "/auth/verify-magic-link"); base != "" {
			sr.Link = func(token string) string {
				q := url.Values{"token": {token}, "attempt": {a.ID}, "redirect_uri": {redirectTo}}
				return base + "?" + q.Encode()
			}
		}
	}
	started, err := d.env.Engine.Start(r.Context(), sr)
	if err != nil {
		writeError(w, d.engineError(err), sessionOf(st, nil))
		return
	}
	a.Engine, a.Method, a.Expires = started.AttemptID, strategy, started.ExpiresAt.UnixMilli()
	if err := d.browser.save(w, st); err != nil {
		writeError(w, d.engineError(err), nil)
		return
	}
	data := prepareData{OTPSent: true, VerificationMethod: strategy}
	if a.Channel == verify.ChannelEmail {
		data.MaskedEmail = mask(a.Channel, a.Address)
	} else {
		data.MaskedPhone = mask(a.Channel, a.Address)
	}
	writeOK(w, data, sessionOf(st, nil))
}

// serveAttempt answers POST /auth/attempt-verification: the code, checked
// by the engine against the attempt's latest, signs the browser in. This
// is the seed's own request, {"signin_attempt_id","code"}.
func (d *Door) serveAttempt(w http.ResponseWriter, r *http.Request) {
	f, e := readFields(w, r)
	if e != nil {
		writeError(w, e, nil)
		return
	}
	st, a, e := d.attemptOf(r, f)
	if e == nil {
		e = usable(a)
	}
	code := f.get("verification_code", "code")
	if e == nil && strings.TrimSpace(code) == "" {
		e = newError(http.StatusBadRequest, codeCodeRequired, "The verification code is required.")
	}
	if e != nil {
		writeError(w, e, sessionOrNil(st))
		return
	}
	consumed, err := d.env.Engine.CheckCode(r.Context(), verify.CheckRequest{
		AttemptID: a.Engine, Code: code, Caller: d.env.Caller(r),
	})
	if err != nil {
		writeError(w, d.engineError(err), sessionOf(st, nil))
		return
	}
	d.complete(w, r, st, a, consumed, verify.MethodCode)
}

// usable says why an attempt cannot be verified now, or nil.
func usable(a *attempt) *apiError {
	switch {
	case a.Done:
		return errAttemptDone
	case a.Engine == "":
		return errNotPrepared
	case a.expired():
		return errExpired
	}
	return nil
}

// complete signs the browser in with a consumed attempt: a passgate
// session in __session, the Wacht attempt marked complete.
func (d *Door) complete(w http.ResponseWriter, r *http.Request, st *browserState, a *attempt, consumed verify.Attempt, method string) {
	in, err := d.env.Engine.SignIn(r.Context(), verify.SignInRequest{Attempt: consumed, Method: method, Caller: d.env.Caller(r)})
	if err != nil {
		writeError(w, d.engineError(err), sessionOf(st, nil))
		return
	}
	// passgate's own cookie, if the browser still has one, names a session
	// that has ended (else the sign-in was refused): it would hide
	// __session from the gate, which reads it first.
	d.env.Session.Clear(w)
	if err := d.session.Set(w, in.Secret); err != nil {
		d.env.Logger.Error("setting the session cookie", zap.Error(err))
		writeError(w, d.engineError(err), sessionOf(st, nil))
		return
	}
	a.Done, a.UserID = true, in.User.ID
	d.saveAndAnswer(w, st, &in.Session)
}

func sessionOrNil(st *browserState) *sessionBody {
	if st == nil {
		return nil
	}
	return sessionOf(st, nil)
}

func quote(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return `"` + strings.ToValidUTF8(s, "") + `"`
}

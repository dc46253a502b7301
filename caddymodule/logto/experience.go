package logto

import (
	"crypto/subtle"
	"net/http"

	"go.uber.org/zap"

	"github.com/passgate/caddy-passgate/internal/clock"
	"github.com/passgate/caddy-passgate/internal/httpkit"
	"github.com/passgate/caddy-passgate/verify"
)

// eventBody is the body of PUT /api/experience and of PUT
// /api/experience/interaction-event. captchaToken is read and dropped:
// passgate has no captcha.
type eventBody struct {
	InteractionEvent string `json:"interactionEvent"`
	CaptchaToken     string `json:"captchaToken"`
}

// sendBody is the body of POST .../verification/verification-code.
type sendBody struct {
	Identifier       *identifier `json:"identifier"`
	InteractionEvent string      `json:"interactionEvent"`
}

// verifyBody is the body of POST .../verification-code/verify.
type verifyBody struct {
	Identifier     *identifier `json:"identifier"`
	VerificationID string      `json:"verificationId"`
	Code           string      `json:"code"`
}

// identifyBody is the body of POST /api/experience/identification.
type identifyBody struct {
	VerificationID string `json:"verificationId"`
}

// verificationIDBody is the answer of the verification routes.
type verificationIDBody struct {
	VerificationID string `json:"verificationId"`
}

// checkEvent refuses an interaction event passgate does not serve.
func checkEvent(event string) *apiError {
	switch event {
	case eventSignIn, eventRegister:
		return nil
	case eventForgotPassword:
		return invalidInput("interactionEvent ForgotPassword: passgate has no passwords.")
	}
	return invalidInput(`interactionEvent must be "SignIn" or "Register".`)
}

// serveSignIn starts a sign-in, as Logto's /oidc/auth does for its apps:
// it sets a new interaction that ends at redirect_to (checked as
// passgate's own) and sends the browser to the sign-in page.
func (d *Door) serveSignIn(w http.ResponseWriter, r *http.Request) {
	it := d.interaction.fresh(d.env.Redirects.Safe(r.URL.Query().Get("redirect_to")))
	if err := d.interaction.save(w, it); err != nil {
		writeError(w, d.failure(err, "", false))
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, d.cfg.SignInPage, http.StatusSeeOther)
}

// begin is what every cookie-bearing call checks first: the cross-site
// rule, then the body.
func (d *Door) begin(w http.ResponseWriter, r *http.Request, body any) *apiError {
	if !d.env.SameOrigin(r) {
		return newError(http.StatusForbidden, codeCrossSite, msgCrossSite)
	}
	if body == nil {
		return nil
	}
	return readJSON(w, r, body)
}

// serveInit is PUT /api/experience: a new interaction for the event,
// keeping where the sign-in started; earlier records are dropped, as
// Logto resets the interaction's data.
func (d *Door) serveInit(w http.ResponseWriter, r *http.Request) {
	var body eventBody
	if e := d.begin(w, r, &body); e != nil {
		writeError(w, e)
		return
	}
	if e := checkEvent(body.InteractionEvent); e != nil {
		writeError(w, e)
		return
	}
	redirectTo := "/"
	if old := d.interaction.load(r); old != nil {
		redirectTo = old.RedirectTo
	}
	it := d.interaction.fresh(redirectTo)
	it.Event = body.InteractionEvent
	if err := d.interaction.save(w, it); err != nil {
		writeError(w, d.failure(err, "", false))
		return
	}
	writeNoContent(w, http.StatusNoContent)
}

// live returns the request's interaction once PUT /api/experience has
// made it, or Logto's session.not_found.
func (d *Door) live(r *http.Request) (*interaction, *apiError) {
	it := d.interaction.load(r)
	if it == nil || it.Event == "" {
		return nil, sessionNotFound()
	}
	return it, nil
}

// serveEvent is PUT /api/experience/interaction-event: the SPA switches a
// SignIn of an unknown user to Register (and back). The identification
// must then be made again.
func (d *Door) serveEvent(w http.ResponseWriter, r *http.Request) {
	var body eventBody
	if e := d.begin(w, r, &body); e != nil {
		writeError(w, e)
		return
	}
	if e := checkEvent(body.InteractionEvent); e != nil {
		writeError(w, e)
		return
	}
	it, e := d.live(r)
	if e != nil {
		writeError(w, e)
		return
	}
	it.Event, it.Identified = body.InteractionEvent, ""
	if err := d.interaction.save(w, it); err != nil {
		writeError(w, d.failure(err, "", false))
		return
	}
	writeNoContent(w, http.StatusNoContent)
}

// serveSendCode sends a code and answers the new record's verificationId,
// alike for an address that may sign in and one that may not.
func (d *Door) serveSendCode(w http.ResponseWriter, r *http.Request) {
	var body sendBody
	if e := d.begin(w, r, &body); e != nil {
		writeError(w, e)
		return
	}
	if body.Identifier == nil {
		writeError(w, invalidInput("identifier is required."))
		return
	}
	channel, address, msg, ok := body.Identifier.address()
	if !ok {
		writeError(w, invalidInput(msg))
		return
	}
	if e := checkEvent(body.InteractionEvent); e != nil {
		writeError(w, e)
		return
	}
	it, e := d.live(r)
	if e != nil {
		writeError(w, e)
		return
	}
	started, err := d.env.Engine.Start(r.Context(), verify.StartRequest{
		Channel:    channel,
		Identifier: address,
		RedirectTo: it.RedirectTo,
		CreateUser: true,
		Caller:     d.env.Caller(r),
	})
	if err != nil {
		writeError(w, d.failure(err, channel, true))
		return
	}
	it.add(record{ID: started.AttemptID, Channel: channel, Address: started.Identifier, Expires: started.ExpiresAt.UnixMilli()})
	if err := d.interaction.save(w, it); err != nil {
		writeError(w, d.failure(err, channel, true))
		return
	}
	httpkit.WriteJSON(w, http.StatusOK, verificationIDBody{VerificationID: started.AttemptID})
}

// serveVerifyCode checks the code of a record of this interaction. A right
// code signs in at once (the engine consumes the code and the session is
// made here, once); the session's secret waits in the interaction until
// submit gives it to the browser.
func (d *Door) serveVerifyCode(w http.ResponseWriter, r *http.Request) {
	var body verifyBody
	if e := d.begin(w, r, &body); e != nil {
		writeError(w, e)
		return
	}
	if body.Identifier == nil || body.VerificationID == "" || body.Code == "" {
		writeError(w, invalidInput("identifier, verificationId and code are required."))
		return
	}
	channel, address, msg, ok := body.Identifier.address()
	if !ok {
		writeError(w, invalidInput(msg))
		return
	}
	it, e := d.live(r)
	if e != nil {
		writeError(w, e)
		return
	}
	if !d.env.Engine.ChannelConfigured(channel) {
		writeError(w, d.failure(verify.ErrChannelNotConfigured, channel, false))
		return
	}
	rec := it.find(body.VerificationID)
	if rec == nil {
		writeError(w, newError(http.StatusNotFound, codeRecordNotFound, msgRecordNotFound))
		return
	}
	if rec.Channel != channel || subtle.ConstantTimeCompare([]byte(normalized(channel, address)), []byte(rec.Address)) != 1 {
		if channel == verify.ChannelPhone {
			writeError(w, newError(http.StatusBadRequest, codePhoneMismatch, msgPhoneMismatch))
		} else {
			writeError(w, newError(http.StatusBadRequest, codeEmailMismatch, msgEmailMismatch))
		}
		return
	}
	if rec.Verified {
		// A retry of a verify that worked (its answer lost): the code is
		// used up, the record stays verified.
		httpkit.WriteJSON(w, http.StatusOK, verificationIDBody{VerificationID: rec.ID})
		return
	}
	attempt, err := d.env.Engine.CheckCode(r.Context(), verify.CheckRequest{
		AttemptID: rec.ID, Code: body.Code, Channel: channel, Identifier: address, Caller: d.env.Caller(r),
	})
	if err != nil {
		fail := d.failure(err, channel, false)
		if fail.Code == codeCodeNotFound && clock.Now().UnixMilli() >= rec.Expires {
			fail = newError(http.StatusBadRequest, codeCodeExpired, msgCodeExpired)
		}
		writeError(w, fail)
		return
	}
	signed, err := d.env.Engine.SignIn(r.Context(), verify.SignInRequest{Attempt: attempt, Method: verify.MethodCode, Caller: d.env.Caller(r)})
	if err != nil {
		writeError(w, d.failure(err, channel, false))
		return
	}
	rec.Verified, rec.Secret = true, signed.Secret
	// The store sets both times at once when it makes the user.
	rec.NewUser = signed.User.CreatedAt.Equal(signed.User.LastSignInAt)
	if err := d.interaction.save(w, it); err != nil {
		d.env.Logger.Error("logto interaction cookie", zap.Error(err))
		writeError(w, d.failure(err, channel, false))
		return
	}
	httpkit.WriteJSON(w, http.StatusOK, verificationIDBody{VerificationID: rec.ID})
}

// serveIdentify identifies the user by a verified record: 204 for a
// SignIn of a user who existed, 201 for a Register of one who did not;
// otherwise Logto's answers, so that a page written for Logto switches
// the event and tries again as it does there.
func (d *Door) serveIdentify(w http.ResponseWriter, r *http.Request) {
	var body identifyBody
	if e := d.begin(w, r, &body); e != nil {
		writeError(w, e)
		return
	}
	if body.VerificationID == "" {
		writeError(w, invalidInput("verificationId is required."))
		return
	}
	it, e := d.live(r)
	if e != nil {
		writeError(w, e)
		return
	}
	rec := it.find(body.VerificationID)
	switch {
	case rec == nil:
		writeError(w, newError(http.StatusNotFound, codeRecordNotFound, msgRecordNotFound))
		return
	case !rec.Verified:
		writeError(w, newError(http.StatusBadRequest, codeVerificationFailed, msgVerificationFailed))
		return
	case it.Event == eventSignIn && rec.NewUser:
		writeError(w, newError(http.StatusNotFound, codeUserNotExist, msgUserNotExist))
		return
	case it.Event == eventRegister && !rec.NewUser && rec.Channel == verify.ChannelPhone:
		writeError(w, newError(http.StatusUnprocessableEntity, codePhoneInUse, msgPhoneInUse))
		return
	case it.Event == eventRegister && !rec.NewUser:
		writeError(w, newError(http.StatusUnprocessableEntity, codeEmailInUse, msgEmailInUse))
		return
	}
	it.Identified = rec.ID
	if err := d.interaction.save(w, it); err != nil {
		writeError(w, d.failure(err, "", false))
		return
	}
	status := http.StatusNoContent
	if it.Event == eventRegister {
		status = http.StatusCreated
	}
	writeNoContent(w, status)
}

// submitBody is the answer of submit.
type submitBody struct {
	RedirectTo string `json:"redirectTo"`
}

// serveSubmit ends the interaction: the browser gets the session of the
// identified record in passgate's cookie, and the page it started from.
func (d *Door) serveSubmit(w http.ResponseWriter, r *http.Request) {
	if e := d.begin(w, r, nil); e != nil {
		writeError(w, e)
		return
	}
	it, e := d.live(r)
	if e != nil {
		writeError(w, e)
		return
	}
	rec := it.find(it.Identified)
	if it.Identified == "" || rec == nil || rec.Secret == "" {
		writeError(w, newError(http.StatusNotFound, codeIdentifierNotFound, msgIdentifierNotFound))
		return
	}
	if err := d.env.Session.Set(w, rec.Secret); err != nil {
		writeError(w, d.failure(err, "", false))
		return
	}
	d.interaction.clear(w)
	httpkit.WriteJSON(w, http.StatusOK, submitBody{RedirectTo: it.RedirectTo})
}

package wacht

import (
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"

	"github.com/passgate/caddy-passgate/verify"
)

// The objects of Wacht's Frontend API (its client's wacht-types), as far
// as a passwordless sign-in fills them. Ids are strings; times RFC 3339.

// sessionBody is Wacht's Session: the browser's session, which exists
// before anyone signs in and holds the attempts and the sign-in.
type sessionBody struct {
	ID             string              `json:"id"`
	ActiveSignIn   *signInBody         `json:"active_signin"`
	SignIns        []signInBody        `json:"signins"`
	SignInAttempts []signinAttemptBody `json:"signin_attempts"`
	SignUpAttempts []signupAttemptBody `json:"signup_attempts"`
}

type signinAttemptBody struct {
	ID                                 string    `json:"id"`
	Email                              string    `json:"email"`
	Phone                              string    `json:"phone_number,omitempty"`
	SessionID                          string    `json:"session_id"`
	Method                             string    `json:"method"`
	CreatedAt                          time.Time `json:"created_at"`
	ExpiresAt                          time.Time `json:"expires_at"`
	FirstMethodAuthenticated           bool      `json:"first_method_authenticated"`
	SecondMethodAuthenticated          bool      `json:"second_method_authenticated"`
	SecondMethodAuthenticationRequired bool      `json:"second_method_authentication_required"`
	// UserID is null until the attempt completes: before, it would say
	// whether the address has an account.
	UserID      *string `json:"user_id"`
	CurrentStep string  `json:"current_step"`
	Completed   bool    `json:"completed"`
}

type signupAttemptBody struct {
	ID             string    `json:"id"`
	SessionID      string    `json:"session_id"`
	FirstName      string    `json:"first_name"`
	LastName       string    `json:"last_name"`
	Email          string    `json:"email"`
	Username       string    `json:"username"`
	PhoneNumber    string    `json:"phone_number"`
	RequiredFields []string  `json:"required_fields"`
	MissingFields  []string  `json:"missing_fields"`
	CurrentStep    string    `json:"current_step"`
	RemainingSteps []string  `json:"remaining_steps"`
	Completed      bool      `json:"completed"`
	CreatedAt      time.Time `json:"created_at"`
	ExpiresAt      time.Time `json:"expires_at"`
}

// signInBody is Wacht's SignIn: one signed-in account of the browser, a
// passgate session. Its fields are camelCase in the client's types.
type signInBody struct {
	ID                             string          `json:"id"`
	UserID                         string          `json:"user_id"`
	ActiveOrganizationMembershipID *string         `json:"active_organization_membership_id"`
	ActiveWorkspaceMembershipID    *string         `json:"active_workspace_membership_id"`
	User                           currentUserBody `json:"user"`
	CreatedAt                      time.Time       `json:"created_at"`
	ExpiresAt                      time.Time       `json:"expiresAt"`
	LastActiveAt                   time.Time       `json:"lastActiveAt"`
	IPAddress                      string          `json:"ipAddress"`
	Browser                        string          `json:"browser"`
	Device                         string          `json:"device"`
	City                           string          `json:"city"`
	Region                         string          `json:"region"`
	RegionCode                     string          `json:"regionCode"`
	Country                        string          `json:"country"`
	CountryCode                    string          `json:"countryCode"`
}

type emailAddressBody struct {
	ID                   string    `json:"id"`
	Email                string    `json:"email"`
	IsPrimary            bool      `json:"is_primary"`
	Verified             bool      `json:"verified"`
	VerifiedAt           time.Time `json:"verified_at"`
	VerificationStrategy string    `json:"verification_strategy"`
}

type phoneNumberBody struct {
	ID          string    `json:"id"`
	PhoneNumber string    `json:"phone_number"`
	CountryCode string    `json:"country_code"`
	Verified    bool      `json:"verified"`
	VerifiedAt  time.Time `json:"verified_at"`
}

// currentUserBody is Wacht's CurrentUser (GET /me). passgate keeps no
// names or pictures: those are empty.
type currentUserBody struct {
	ID                   string             `json:"id"`
	FirstName            string             `json:"first_name"`
	LastName             string             `json:"last_name"`
	Username             string             `json:"username"`
	Availability         string             `json:"availability"`
	HasProfilePicture    bool               `json:"has_profile_picture"`
	ProfilePictureURL    string             `json:"profile_picture_url"`
	PrimaryEmailID       *string            `json:"primary_email_address_id"`
	PrimaryPhoneID       *string            `json:"primary_phone_number_id"`
	PrimaryEmailAddress  *emailAddressBody  `json:"primary_email_address"`
	PrimaryPhoneNumber   *phoneNumberBody   `json:"primary_phone_number"`
	SecondFactorPolicy   string             `json:"second_factor_policy"`
	UserEmailAddresses   []emailAddressBody `json:"user_email_addresses"`
	UserPhoneNumbers     []phoneNumberBody  `json:"user_phone_numbers"`
	SocialConnections    []any              `json:"social_connections"`
	HasPassword          bool               `json:"has_password"`
	HasPasskeys          bool               `json:"has_passkeys"`
	PublicMetadata       map[string]any     `json:"public_metadata"`
	Segments             []any              `json:"segments"`
	BackupCodesGenerated bool               `json:"backup_codes_generated"`
}

// currentUser describes the user a session belongs to. The address was
// verified (again) by the sign-in that made the session.
func currentUser(s verify.Session) currentUserBody {
	u := currentUserBody{
		ID: s.UserID, Availability: "available", SecondFactorPolicy: "none",
		UserEmailAddresses: []emailAddressBody{}, UserPhoneNumbers: []phoneNumberBody{},
		SocialConnections: []any{}, PublicMetadata: map[string]any{}, Segments: []any{},
	}
	verified := s.CreatedAt.UTC()
	if s.Email != "" {
		e := emailAddressBody{ID: s.UserID + "-email", Email: s.Email, IsPrimary: true, Verified: true,
			VerifiedAt: verified, VerificationStrategy: "otp"}
		u.PrimaryEmailID, u.PrimaryEmailAddress = &e.ID, &e
		u.UserEmailAddresses = append(u.UserEmailAddresses, e)
	}
	if s.Phone != "" {
		p := phoneNumberBody{ID: s.UserID + "-phone", PhoneNumber: s.Phone, CountryCode: regionOf(s.Phone),
			Verified: true, VerifiedAt: verified}
		u.PrimaryPhoneID, u.PrimaryPhoneNumber = &p.ID, &p
		u.UserPhoneNumbers = append(u.UserPhoneNumbers, p)
	}
	return u
}

// regionOf is the ISO country of an E.164 number ("GB"), or "".
func regionOf(e164 string) string {
	n, err := phonenumbers.Parse(e164, phonenumbers.UNKNOWN_REGION)
	if err != nil {
		return ""
	}
	return phonenumbers.GetRegionCodeForNumber(n)
}

func signInOf(s verify.Session) signInBody {
	return signInBody{ID: s.ID, UserID: s.UserID, User: currentUser(s), CreatedAt: s.CreatedAt.UTC(),
		ExpiresAt: s.ExpiresAt.UTC(), LastActiveAt: s.LastSeenAt.UTC()}
}

// steps of an attempt, by strategy.
var stepOf = map[string]string{
	strategyEmailOTP:  "verify_email_otp",
	strategyPhoneOTP:  "verify_phone_otp",
	strategyMagicLink: "verify_email_link",
}

// sessionOf describes the browser's Wacht session: its attempts, oldest
// first (the client takes the last), and its sign-in if it has one.
func sessionOf(st *browserState, signedIn *verify.Session) *sessionBody {
	b := &sessionBody{ID: st.ID, SignIns: []signInBody{},
		SignInAttempts: []signinAttemptBody{}, SignUpAttempts: []signupAttemptBody{}}
	if signedIn != nil {
		si := signInOf(*signedIn)
		b.ActiveSignIn = &si
		b.SignIns = append(b.SignIns, si)
	}
	for _, a := range st.Attempts {
		created, expires := time.UnixMilli(a.Created).UTC(), time.UnixMilli(a.Expires).UTC()
		email, phone := "", ""
		if a.Channel == verify.ChannelEmail {
			email = a.Address
		} else {
			phone = a.Address
		}
		if a.SignUp {
			step := "verify_email"
			if a.Channel == verify.ChannelPhone {
				step = "verify_phone"
			}
			remaining := []string{step}
			if a.Done {
				remaining = []string{}
			}
			b.SignUpAttempts = append(b.SignUpAttempts, signupAttemptBody{
				ID: a.ID, SessionID: st.ID, Email: email, PhoneNumber: phone,
				RequiredFields: []string{}, MissingFields: []string{}, CurrentStep: step,
				RemainingSteps: remaining, Completed: a.Done, CreatedAt: created, ExpiresAt: expires,
			})
			continue
		}
		var userID *string
		if a.Done {
			userID = &a.UserID
		}
		b.SignInAttempts = append(b.SignInAttempts, signinAttemptBody{
			ID: a.ID, Email: email, Phone: phone, SessionID: st.ID, Method: a.Method,
			CreatedAt: created, ExpiresAt: expires, FirstMethodAuthenticated: a.Done,
			UserID: userID, CurrentStep: stepOf[a.Method], Completed: a.Done,
		})
	}
	return b
}

// mask shows enough of an address for a person to recognise it:
// "a•••@example.com", "+44•••••••800".
func mask(channel, address string) string {
	if channel == verify.ChannelEmail {
		local, domain, ok := strings.Cut(address, "@")
		if !ok || local == "" {
			return address
		}
		r := []rune(local)
		return string(r[0]) + "•••@" + domain
	}
	if len(address) <= 6 {
		return address
	}
	return address[:3] + strings.Repeat("•", len(address)-6) + address[len(address)-3:]
}

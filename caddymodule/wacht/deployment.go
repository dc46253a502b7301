package wacht

import (
	"encoding/base64"
	"net/http"

	"github.com/passgate/caddy-passgate/verify"
)

// The Deployment (GET /deployment) as Wacht's client reads it: mode, which
// decides the transport ("production": credentialed fetches and the
// __session cookie), and auth_settings, from which the pre-built
// components choose the first factor. Every object is there, empty where
// passgate has nothing: the components read nested fields unguarded.

type authField struct {
	Enabled  bool `json:"enabled"`
	Required bool `json:"required"`
}

type authFactors struct {
	EmailPassword    bool `json:"email_password"`
	UsernamePassword bool `json:"username_password"`
	EmailMagicLink   bool `json:"email_magic_link"`
	EmailOTP         bool `json:"email_otp"`
	PhoneOTP         bool `json:"phone_otp"`
	Web3Wallet       bool `json:"web3_wallet"`
	BackupCode       bool `json:"backup_code"`
	Authenticator    bool `json:"authenticator"`
}

type authSettings struct {
	ID                     string          `json:"id"`
	DeploymentID           string          `json:"deployment_id"`
	EmailAddress           authField       `json:"email_address"`
	PhoneNumber            authField       `json:"phone_number"`
	Username               authField       `json:"username"`
	FirstName              authField       `json:"first_name"`
	LastName               authField       `json:"last_name"`
	Password               authField       `json:"password"`
	BackupCode             authField       `json:"backup_code"`
	Web3Wallet             authField       `json:"web3_wallet"`
	PasswordPolicy         authField       `json:"password_policy"`
	MagicLink              authField       `json:"magic_link"`
	Passkey                map[string]bool `json:"passkey"`
	AuthFactorsEnabled     authFactors     `json:"auth_factors_enabled"`
	VerificationPolicy     map[string]bool `json:"verification_policy"`
	SecondFactorPolicy     string          `json:"second_factor_policy"`
	FirstFactor            string          `json:"first_factor"`
	SecondFactor           *string         `json:"second_factor"`
	AlternateFirstFactors  []string        `json:"alternate_first_factors"`
	AlternateSecondFactors []string        `json:"alternate_second_factors"`
	MultiSessionSupport    map[string]any  `json:"multi_session_support"`
}

type deploymentBody struct {
	ID                string         `json:"id"`
	Mode              string         `json:"mode"`
	MaintenanceMode   bool           `json:"maintenance_mode"`
	BackendHost       string         `json:"backend_host"`
	FrontendHost      string         `json:"frontend_host"`
	MailFromHost      string         `json:"mail_from_host"`
	PublishableKey    string         `json:"publishable_key"`
	ProjectID         string         `json:"project_id"`
	AuthSettings      authSettings   `json:"auth_settings"`
	B2BSettings       map[string]any `json:"b2b_settings"`
	Restrictions      map[string]any `json:"restrictions"`
	SocialConnections []any          `json:"social_connections"`
	UISettings        map[string]any `json:"ui_settings"`
}

const deploymentID = "passgate"

// authSettingsOf reflects the configured channels: email (codes and magic
// links) and phone (codes).
func authSettingsOf(e *verify.Engine) authSettings {
	email, phone := e.ChannelConfigured(verify.ChannelEmail), e.ChannelConfigured(verify.ChannelPhone)
	var factors []string
	if email {
		factors = append(factors, "email_otp", "email_magic_link")
	}
	if phone {
		factors = append(factors, "phone_otp")
	}
	first := "email_otp"
	if len(factors) > 0 {
		first = factors[0]
	}
	alternates := []string{}
	for _, f := range factors {
		if f != first {
			alternates = append(alternates, f)
		}
	}
	return authSettings{
		ID: deploymentID, DeploymentID: deploymentID,
		EmailAddress: authField{Enabled: email, Required: email && !phone},
		PhoneNumber:  authField{Enabled: phone, Required: phone && !email},
		MagicLink:    authField{Enabled: email},
		Passkey:      map[string]bool{"enabled": false, "prompt_registration_on_auth": false, "allow_autofill": false},
		AuthFactorsEnabled: authFactors{
			EmailMagicLink: email, EmailOTP: email, PhoneOTP: phone,
		},
		VerificationPolicy:     map[string]bool{"email": email, "phone_number": phone},
		SecondFactorPolicy:     "none",
		FirstFactor:            first,
		AlternateFirstFactors:  alternates,
		AlternateSecondFactors: []string{},
		MultiSessionSupport:    map[string]any{"enabled": false, "max_accounts_per_session": 1, "max_sessions_per_account": 0},
	}
}

// serveDeployment answers GET /deployment, the client's first call.
func (d *Door) serveDeployment(w http.ResponseWriter, r *http.Request) {
	backend := d.env.LinkBase(r, "")
	dep := deploymentBody{
		ID: deploymentID, Mode: "production", BackendHost: backend, ProjectID: deploymentID,
		AuthSettings: authSettingsOf(d.env.Engine),
		B2BSettings: map[string]any{"id": deploymentID, "deployment_id": deploymentID,
			"organizations_enabled": false, "workspaces_enabled": false, "enterprise_sso_enabled": false,
			"workspace_permissions": []string{}, "organization_permissions": []string{}},
		Restrictions: map[string]any{"id": deploymentID, "deployment_id": deploymentID, "sign_up_mode": "public",
			"allowlist_enabled": false, "blocklist_enabled": false,
			"country_restrictions":  map[string]any{"enabled": false, "country_codes": []string{}},
			"banned_keywords":       []string{},
			"allowlisted_resources": []string{}, "blocklisted_resources": []string{}},
		SocialConnections: []any{},
		UISettings: map[string]any{"deployment_id": deploymentID, "app_name": "",
			"sign_in_page_url": "", "sign_up_page_url": "", "after_signin_redirect_url": "",
			"after_signup_redirect_url": "", "after_sign_out_one_page_url": "", "after_sign_out_all_page_url": "",
			"use_initials_for_user_profile_image": true,
			"light_mode_settings":                 map[string]string{"primary_color": "#2d5bd7", "background_color": "#ffffff", "text_color": "#111111"},
			"dark_mode_settings":                  map[string]string{"primary_color": "#6b8cff", "background_color": "#111111", "text_color": "#f5f5f5"}},
	}
	if backend != "" {
		// The key that points Wacht's clients at this door.
		dep.PublishableKey = "pk_live_" + base64.StdEncoding.EncodeToString([]byte(backend))
	}
	writeOK(w, dep, nil)
}

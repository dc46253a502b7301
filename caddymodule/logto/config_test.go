package logto

import (
	"strings"
	"testing"
)

// The options' rules: a sign-in page on this site, an absolute resource
// URL, an issuer without surrounding spaces.
func TestConfigCheck(t *testing.T) {
	for _, c := range []Config{{}, {SignInPage: "/login/custom?x=1"}, {Resource: "https://tenant.logto.app/api"}, {Issuer: "https://app.example.com/logto/oidc"}} {
		if err := c.Check(); err != nil {
			t.Errorf("%+v: %v", c, err)
		}
	}
	for _, c := range []Config{
		{SignInPage: "https://evil.example/sign-in"}, {SignInPage: "//evil.example"}, {SignInPage: "sign-in"},
		{Resource: "default.logto.app/api"}, {Resource: "ftp://x/api"}, {Resource: "https://x/api#f"},
		{Issuer: " x"}, {Issuer: strings.Repeat("i", 257)},
	} {
		if err := c.Check(); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	d, _ := testDoor(t)
	if d.cfg.Issuer != "passgate/logto/oidc" || d.cfg.Resource != DefaultResource || d.cfg.SignInPage != DefaultSignInPage {
		t.Fatalf("defaults: %+v", d.cfg)
	}
}

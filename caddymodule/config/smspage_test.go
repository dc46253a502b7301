package config

import (
	"strings"
	"testing"

	"github.com/passgate/caddy-passgate/caddymodule/native"
	"github.com/passgate/caddy-passgate/verify/webhook"
)

func TestSMSAndPageCaddyfile(t *testing.T) {
	p, err := parse(`passgate {
		sms webhook https://sms.internal/send {
			secret {env.SMS_SECRET}
			timeout 3s
			retries 0
		}
		page {
			title "Acme staff"
			logo data:image/png;base64,iVBORw0KGgo=
			color "#0a7"
		}
	}`)
	if err != nil {
		t.Fatal(err)
	}
	if p.SMS.URL != "https://sms.internal/send" || p.SMS.Secret != "{env.SMS_SECRET}" ||
		p.SMS.Timeout != 3_000_000_000 || p.SMS.Retries == nil || *p.SMS.Retries != 0 {
		t.Fatalf("sms %+v", p.SMS)
	}
	if p.Page != (native.PageConfig{Title: "Acme staff", Logo: "data:image/png;base64,iVBORw0KGgo=", Color: "#0a7"}) {
		t.Fatalf("page %+v", p.Page)
	}
	if p, err = parse("passgate {\n\tsms log\n}"); err != nil || p.SMS.Delivery != "log" {
		t.Fatalf("sms log: %+v %v", p.SMS, err)
	}
}

func TestSMSAndPageCaddyfileErrors(t *testing.T) {
	wantParseErrors(t, []parseErrorCase{
		{"unknown sms delivery", "passgate {\n\tsms pigeon\n}", 2, "unknown delivery"},
		{"sms webhook without url", "passgate {\n\tsms webhook\n}", 2, "URL is required"},
		{"sms webhook bad url", "passgate {\n\tsms webhook ftp://x {\n\t\tsecret 0123456789abcdefgh\n\t}\n}", 2, "http:// or https://"},
		{"sms webhook without secret", "passgate {\n\tsms webhook https://x/y {\n\t\ttimeout 1s\n\t}\n}", 4, "secret is required"},
		{"sms webhook short secret", "passgate {\n\tsms webhook https://x/y {\n\t\tsecret short\n\t}\n}", 3, "at least 16"},
		{"sms webhook bad retries", "passgate {\n\tsms webhook https://x/y {\n\t\tretries many\n\t}\n}", 3, "retries"},
		{"sms webhook unknown option", "passgate {\n\tsms webhook https://x/y {\n\t\tmethod PUT\n\t}\n}", 3, "unknown sms webhook option"},
		{"sms log with options", "passgate {\n\tsms log {\n\t\tsecret x\n\t}\n}", 3, "no options"},
		{"colour breaking out of CSS", "passgate {\n\tpage {\n\t\tcolor \"red;}body{display:none\"\n\t}\n}", 3, "colour"},
		{"colour with url()", "passgate {\n\tpage {\n\t\tcolor url(//evil.example/x)\n\t}\n}", 3, "colour"},
		{"colour with a closing tag", "passgate {\n\tpage {\n\t\tcolor </style>\n\t}\n}", 3, "colour"},
		{"javascript logo", "passgate {\n\tpage {\n\t\tlogo javascript:alert(1)\n\t}\n}", 3, "logo"},
		{"logo on another site", "passgate {\n\tpage {\n\t\tlogo //evil.example/x.png\n\t}\n}", 3, "logo"},
		{"html data logo", "passgate {\n\tpage {\n\t\tlogo data:text/html;base64,PHNjcmlwdD4=\n\t}\n}", 3, "logo"},
		{"logo with a quote", "passgate {\n\tpage {\n\t\tlogo \"/x\\\"onerror=alert(1)\"\n\t}\n}", 3, "logo"},
		{"missing template", "passgate {\n\tpage {\n\t\ttemplate /nonexistent/login.html\n\t}\n}", 3, "page template"},
		{"unquoted hex colour", "passgate {\n\tpage {\n\t\tcolor #0a7\n\t}\n}", 3, "quote hex colours"},
		{"unknown page option", "passgate {\n\tpage {\n\t\tfont Comic\n\t}\n}", 3, "unknown page option"},
		{"blank title", "passgate {\n\tpage {\n\t\ttitle \" \"\n\t}\n}", 3, "page title: 1 to 100 characters"},
		{"long title", "passgate {\n\tpage {\n\t\ttitle " + strings.Repeat("x", 101) + "\n\t}\n}", 3, "page title: 1 to 100 characters"},
	})
}

func TestSMSWebhookProvision(t *testing.T) {
	t.Setenv("PASSGATE_TEST_SMS_SHORT", "short")
	t.Setenv("PASSGATE_TEST_SMS_OK", "0123456789abcdef0123")
	t.Setenv("PASSGATE_TEST_SMS_URL", "https://sms.internal/x")
	for _, tc := range []struct {
		name, url, secret, wantErr string
	}{
		{"placeholders", "{env.PASSGATE_TEST_SMS_URL}", "{env.PASSGATE_TEST_SMS_OK}", ""},
		{"unset url", "{env.PASSGATE_TEST_SMS_URL_UNSET}", "{env.PASSGATE_TEST_SMS_OK}", "sms webhook URL"},
		{"unset secret", "https://sms.internal/x", "{env.PASSGATE_TEST_SMS_UNSET}", "sms webhook secret"},
		{"short secret", "https://sms.internal/x", "{env.PASSGATE_TEST_SMS_SHORT}", "at least 16"},
		{"bad url after replacement", "{env.PASSGATE_TEST_SMS_SHORT}", "{env.PASSGATE_TEST_SMS_OK}", "http:// or https://"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &SMSConfig{Delivery: "webhook", URL: tc.url, Secret: tc.secret}
			w, err := c.Sender()
			if tc.wantErr == "" {
				if err != nil || w.URL != "https://sms.internal/x" || string(w.Secret) != "0123456789abcdef0123" ||
					w.Retries != webhook.DefaultRetries || w.Timeout != webhook.DefaultTimeout {
					t.Fatalf("sender %+v, %v", w, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), "0123456789abcdef") {
				t.Fatalf("error %q quotes the secret", err)
			}
		})
	}
}

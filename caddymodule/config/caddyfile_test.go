package config

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func parse(input string) (*Config, error) {
	p := new(Config)
	err := p.UnmarshalCaddyfile(caddyfile.NewTestDispenser(input))
	return p, err
}

func TestCaddyfileFull(t *testing.T) {
	p, err := parse(`passgate {
		secret {env.PASSGATE_SECRET}
		secret {file./run/old-secret}
		store redis redis://127.0.0.1:6379/2 {
			prefix app1:
			timeout 500ms
		}
		base_path /login-area/
		email log
		allow email *@example.com *@example.org
		allow phone +44*
		role admin email root@example.com
		role ops phone +4420*
		public /static/* /health
		code {
			length 8
			ttl 5m
			max_attempts 3
		}
		session {
			idle 1h
			lifetime 24h
		}
		limits {
			resend_cooldown 2m
			sends_per_hour 3 12
			starts_per_ip 500 1h
			verifies_per_ip 1000 1h
			wrong_codes_per_day 20
		}
		cookie {
			name sid
			domain example.com
			insecure
		}
		headers {
			user_id X-User
			email ""
			phone off
			strip X-App-Admin X-Tenant
			strip X-More
		}
	}`)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(p)
	want := `{"secrets":["{env.PASSGATE_SECRET}","{file./run/old-secret}"],` +
		`"store":{"backend":"redis","url":"redis://127.0.0.1:6379/2","prefix":"app1:","timeout":500000000},` +
		`"base_path":"/login-area/","email":{"delivery":"log"},` +
		`"allow":{"email":["*@example.com","*@example.org"],"phone":["+44*"]},` +
		`"roles":[{"name":"admin","email":["root@example.com"]},{"name":"ops","phone":["+4420*"]}],` +
		`"public":["/static/*","/health"],` +
		`"code":{"length":8,"ttl":300000000000,"max_attempts":3},` +
		`"session":{"idle":3600000000000,"lifetime":86400000000000},` +
		`"limits":{"resend_cooldown":120000000000,"sends_per_hour":3,"sends_per_hour_per_address":12,"starts_per_ip":{"count":500,"window":3600000000000},` +
		`"verifies_per_ip":{"count":1000,"window":3600000000000},"wrong_codes_per_day":20},` +
		`"cookie":{"name":"sid","domain":"example.com","insecure":true},` +
		`"headers":{"user_id":"X-User","email":"","phone":"","strip":["X-App-Admin","X-Tenant","X-More"]}}`
	if string(got) != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

func TestCaddyfileErrorsNameTheLine(t *testing.T) {
	wantParseErrors(t, []parseErrorCase{
		{"unknown subdirective", "passgate {\n\tfoo bar\n}", 2, ""},
		{"arg on directive", "passgate extra {\n}", 1, ""},
		{"short literal secret", "passgate {\n\tsecret tooshort\n}", 2, "at least 32"},
		{"unknown store", "passgate {\n\tstore mongo\n}", 2, "unknown store"},
		{"redis without url", "passgate {\n\n\tstore redis\n}", 3, ""},
		{"bad redis url", "passgate {\n\tstore redis http://x\n}", 2, "store redis"},
		{"bad store option", "passgate {\n\tstore memory {\n\t\tpool 3\n\t}\n}", 3, ""},
		{"bad timeout", "passgate {\n\tstore redis redis://x {\n\t\ttimeout soon\n\t}\n}", 3, "bad duration"},
		{"negative duration", "passgate {\n\tsession {\n\t\tidle -1h\n\t}\n}", 3, "above 0"},
		{"code too short", "passgate {\n\tcode {\n\t\tlength 4\n\t}\n}", 3, "code length"},
		{"code ttl too long", "passgate {\n\tcode {\n\t\tttl 1h\n\t}\n}", 3, "at most 10m"},
		{"too many attempts", "passgate {\n\tcode {\n\t\tmax_attempts 10\n\t}\n}", 3, "max_attempts"},
		{"idle over lifetime", "passgate {\n\tsession {\n\t\tidle 48h\n\t\tlifetime 24h\n\t}\n}", 5, "longer than"},
		{"bad glob", "passgate {\n\tallow email [a-\n}", 2, "bad pattern"},
		{"bad channel", "passgate {\n\tallow fax *\n}", 2, "unknown channel"},
		{"allow without globs", "passgate {\n\tallow email\n}", 2, ""},
		{"role with comma", "passgate {\n\trole a,b email *\n}", 2, "no commas"},
		{"bad header name", "passgate {\n\theaders {\n\t\temail X:Bad\n\t}\n}", 3, "header name"},
		{"strip without names", "passgate {\n\theaders {\n\t\tstrip\n\t}\n}", 3, ""},
		{"strip a header sign-in needs", "passgate {\n\theaders {\n\t\tstrip X-Ok Cookie\n\t}\n}", 3, "header name"},
		{"bad cookie name", "passgate {\n\tcookie {\n\t\tname a;b\n\t}\n}", 3, "cookie name"},
		{"unknown delivery", "passgate {\n\temail carrier-pigeon\n}", 2, "unknown delivery"},
		{"base path not absolute", "passgate {\n\tbase_path auth\n}", 2, "base_path"},
		{"guessing bound", "passgate {\n\tlimits {\n\t\twrong_codes_per_day 200\n\t}\n}", 3, "at most 99 keeps it"},
		{"unknown page option without a value", "passgate {\n\tpage {\n\t\tfoo\n\t}\n}", 3, "unknown page option"},
		{"cooldown over a day", "passgate {\n\tlimits {\n\t\tresend_cooldown 25h\n\t}\n}", 3, "10s to 24h0m0s"},
		{"window over a day", "passgate {\n\tlimits {\n\t\tstarts_per_ip 5 48h\n\t}\n}", 3, "at most 24h0m0s"},
		{"guessing bound with short codes", "passgate {\n\tcode {\n\t\tlength 8\n\t}\n\tlimits {\n\t\twrong_codes_per_day 20000\n\t}\n}", 6, "at most 9999 keeps it"},
		{"guessing bound, code block after", "passgate {\n\tlimits {\n\t\twrong_codes_per_day 20000\n\t}\n\tcode {\n\t\tlength 8\n\t}\n}", 3, "at most 9999 keeps it"},
		{"short cooldown", "passgate {\n\tlimits {\n\t\tresend_cooldown 1s\n\t}\n}", 3, "10s to 24h0m0s"},
		{"rate without window", "passgate {\n\tlimits {\n\t\tstarts_per_ip 5\n\t}\n}", 3, "<count> <window>"},
		{"sends per hour", "passgate {\n\tlimits {\n\t\tsends_per_hour 500\n\t}\n}", 3, "sends_per_hour"},
		{"sends per hour at the per-address default", "passgate {\n\tlimits {\n\t\tstarts_per_ip 60 10m\n\t\tsends_per_hour 20\n\t}\n}", 4, "20 per network: 1 to 19, below the per-address cap of 20"},
		{"sends per hour per network not below per address", "passgate {\n\tlimits {\n\t\tsends_per_hour 8 8\n\t}\n}", 3, "8 per network: 1 to 7"},
		{"sends per hour per address over the bound", "passgate {\n\tlimits {\n\t\tsends_per_hour 5 50\n\t}\n}", 3, "50 per address: 2 to 20"},
		{"sends per hour zero", "passgate {\n\tlimits {\n\t\tsends_per_hour 0 10\n\t}\n}", 3, "numbers of 1 or more"},
		{"sends per hour three numbers", "passgate {\n\tlimits {\n\t\tsends_per_hour 1 2 3\n\t}\n}", 3, "<per network> [<per address>]"},
		{"sends per hour not a number", "passgate {\n\tlimits {\n\t\tsends_per_hour five\n\t}\n}", 3, "<per network> [<per address>]"},
		{"sends per hour without a number", "passgate {\n\tlimits {\n\t\tsends_per_hour\n\t}\n}", 3, "<per network> [<per address>]"},
		{"public without paths", "passgate {\n\tpublic\n}", 2, ""},
		{"cors without origins", "passgate {\n\tcors\n}", 2, ""},
		{"cors wildcard", "passgate {\n\tcors https://a.example.com\n\tcors https://*.example.com\n}", 3, "no wildcard"},
		{"cors with a path", "passgate {\n\tcors https://a.example.com/app\n}", 2, "origin"},
	})
}

// The bound on wrong_codes_per_day follows the code settings wherever the
// code block stands: 500 is too many for 6-digit codes, not for 8.
func TestCaddyfileLimitsCheckedAgainstTheWholeBlock(t *testing.T) {
	for _, in := range []string{
		"passgate {\n\tlimits {\n\t\twrong_codes_per_day 500\n\t}\n\tcode {\n\t\tlength 8\n\t}\n}",
		"passgate {\n\tcode {\n\t\tlength 8\n\t}\n\tlimits {\n\t\twrong_codes_per_day 500\n\t}\n}",
	} {
		if _, err := parse(in); err != nil {
			t.Fatalf("refused:\n%s\n%v", in, err)
		}
	}
}

// parseErrorCase is a Caddyfile that must be refused, with the line its
// error must name and a part of its message ("" checks the line only).
type parseErrorCase struct {
	name, input string
	line        int
	wantErr     string
}

func wantParseErrors(t *testing.T, cases []parseErrorCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse(tc.input)
			if err == nil {
				t.Fatalf("accepted:\n%s", tc.input)
			}
			if !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), fmt.Sprintf("Testfile:%d", tc.line)) {
				t.Fatalf("error %q: want %q at line %d", err, tc.wantErr, tc.line)
			}
		})
	}
}

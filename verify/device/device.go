// Package device tells a person which of their sessions is which: a
// readable name of the browser and system a session signed in from (from
// its User-Agent) and the coarse network it came from (an IPv4 /24, an
// IPv6 /48). Both are kept as short codes, so that a session's record
// grows by a few bytes; Name and Network spell them out.
//
// It is a hint for the person, not an identification: a User-Agent is
// whatever the client says, and only a few families are told apart.
package device

import (
	"net/netip"
	"strconv"
	"strings"
)

// A family is one browser or system, by its code letter: the first
// marker found in a User-Agent names it, so the order matters (Edge and
// Opera say Chrome too, Chrome says Safari, Android says Linux, an iPhone
// says Mac OS X).
type family struct {
	code    byte
	name    string
	markers []string
}

var browsers = []family{
	{'e', "Edge", []string{"Edg/", "Edge/", "EdgA/", "EdgiOS/"}},
	{'o', "Opera", []string{"OPR/", "Opera"}},
	{'s', "Samsung Internet", []string{"SamsungBrowser/"}},
	{'f', "Firefox", []string{"Firefox/", "FxiOS/"}},
	{'c', "Chrome", []string{"Chrome/", "CriOS/", "Chromium/"}},
	{'a', "Safari", []string{"Safari/"}},
	{'u', "curl", []string{"curl/"}},
	{'g', "Go", []string{"Go-http-client/"}},
	{'p', "Python", []string{"python-requests/", "Python-urllib/", "python-httpx/", "aiohttp/"}},
	{'n', "Node.js", []string{"node", "undici", "axios/"}},
	{'k', "OkHttp", []string{"okhttp/"}},
}

var systems = []family{
	{'w', "Windows", []string{"Windows"}},
	{'i', "iOS", []string{"iPhone", "iPad", "iPod"}},
	{'a', "Android", []string{"Android"}},
	{'c', "ChromeOS", []string{"CrOS"}},
	{'m', "macOS", []string{"Macintosh", "Mac OS X"}},
	{'l', "Linux", []string{"Linux", "X11"}},
}

// unknown is the code letter of a browser or system not told apart.
const unknown = '-'

// maxScan bounds how much of a User-Agent is read: real ones are a few
// hundred bytes, and a longer one gets no more attention.
const maxScan = 512

// Code is the two-letter code of the browser and system a User-Agent
// names ("fl": Firefox on Linux; '-' for either when unknown), or "" for
// no User-Agent at all. It never fails and reads at most 512 bytes.
func Code(userAgent string) string {
	if userAgent == "" {
		return ""
	}
	if len(userAgent) > maxScan {
		userAgent = userAgent[:maxScan]
	}
	return string([]byte{find(browsers, userAgent), find(systems, userAgent)})
}

func find(families []family, ua string) byte {
	for _, f := range families {
		for _, m := range f.markers {
			if strings.Contains(ua, m) {
				return f.code
			}
		}
	}
	return unknown
}

func nameOf(families []family, code byte) string {
	for _, f := range families {
		if f.code == code {
			return f.name
		}
	}
	return ""
}

// Name spells a Code out: "Firefox on Linux", "Chrome", "a Linux
// device"; "Unknown device" for "" or anything that is not a code.
func Name(code string) string {
	if len(code) != 2 {
		return "Unknown device"
	}
	b, s := nameOf(browsers, code[0]), nameOf(systems, code[1])
	switch {
	case b != "" && s != "":
		return b + " on " + s
	case b != "":
		return b
	case s != "":
		return "Unknown browser on " + s
	}
	return "Unknown device"
}

// Coarse is the network an address is in, as a short code: the first
// three bytes of an IPv4 address ("203.0.113", a /24), the first three
// groups of an IPv6 one ("2001:db8:7", a /48); an IPv4-mapped IPv6
// address counts as IPv4. "" for anything that is not an address (a
// zone is ignored).
func Coarse(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ""
	}
	a = a.Unmap()
	if a.Is4() {
		b := a.As4()
		return strconv.Itoa(int(b[0])) + "." + strconv.Itoa(int(b[1])) + "." + strconv.Itoa(int(b[2]))
	}
	b := a.As16()
	group := func(i int) string { return strconv.FormatUint(uint64(b[i])<<8|uint64(b[i+1]), 16) }
	return group(0) + ":" + group(2) + ":" + group(4)
}

// Network spells a Coarse code out as a prefix: "203.0.113.0/24",
// "2001:db8:7::/48"; "" for "" or anything that is not such a code.
func Network(coarse string) string {
	if strings.Count(coarse, ".") == 2 {
		if p, err := netip.ParsePrefix(coarse + ".0/24"); err == nil && p.Addr().Is4() {
			return p.String()
		}
		return ""
	}
	if strings.Count(coarse, ":") == 2 {
		if p, err := netip.ParsePrefix(coarse + "::/48"); err == nil && p.Addr().Is6() && p.Masked() == p {
			return p.String()
		}
	}
	return ""
}

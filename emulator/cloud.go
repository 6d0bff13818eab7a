package emulator

import (
	"net"
	"net/http"
	"net/url"
	"strings"
)

// msCloud is a Microsoft cloud's login host and Graph resource.
type msCloud struct {
	name  string
	login string // host name of Entra ID
	graph string // Graph resource, "https://graph.microsoft.com"
}

var msClouds = map[string]msCloud{
	"global":   {"global", "login.microsoftonline.com", "https://graph.microsoft.com"},
	"usgov":    {"usgov", "login.microsoftonline.us", "https://graph.microsoft.us"},
	"usgovdod": {"usgovdod", "login.microsoftonline.us", "https://dod-graph.microsoft.us"},
}

func cloudOf(name string) msCloud {
	if c, ok := msClouds[strings.ToLower(name)]; ok {
		return c
	}
	return msClouds["global"]
}

// hostOf is the request's host name without the port, lower case.
func hostOf(r *http.Request) string {
	h := r.Host
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	return strings.ToLower(h)
}

func hostOfURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return ""
	}
	return strings.ToLower(p.Hostname())
}

// isMicrosoftLogin and isMicrosoftGraph tell Microsoft's own host names
// from the emulator's address: only on those are the cloud rules applied.
func isMicrosoftLogin(h string) bool {
	return h == "login.microsoftonline.com" || h == "login.microsoftonline.us"
}

func isMicrosoftGraph(h string) bool {
	return h == "graph.microsoft.com" || h == "graph.microsoft.us" || h == "dod-graph.microsoft.us"
}

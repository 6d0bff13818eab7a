package config

import (
	"fmt"
	"net/url"
	"strings"
)

// Cloud is the Microsoft cloud the tenants live in, as resolved endpoints.
type Cloud struct {
	Name          string // global | usgov | usgovdod
	AuthorityHost string // Entra ID, with a trailing slash: "https://login.microsoftonline.com/"
	GraphURL      string // Microsoft Graph, without a trailing slash: "https://graph.microsoft.com"
	// GraphScope is the cloud's Graph resource + "/.default", even when
	// GraphURL is custom: a look-alike of Microsoft (the emulator, a proxy)
	// expects the scope Microsoft's tokens carry. graph_scope overrides it.
	GraphScope string
	// Custom is set when authority_host is: the token client must disable
	// instance discovery, which only knows Microsoft's hosts.
	Custom bool
}

// clouds are the Microsoft clouds that offer Secure Score (research 5.4).
// GCC (moderate) tenants use the global endpoints.
var clouds = map[string]Cloud{
	"global": {
		Name:          "global",
		AuthorityHost: "https://login.microsoftonline.com/",
		GraphURL:      "https://graph.microsoft.com",
		GraphScope:    "https://graph.microsoft.com/.default",
	},
	"usgov": {
		Name:          "usgov",
		AuthorityHost: "https://login.microsoftonline.us/",
		GraphURL:      "https://graph.microsoft.us",
		GraphScope:    "https://graph.microsoft.us/.default",
	},
	"usgovdod": {
		Name:          "usgovdod",
		AuthorityHost: "https://login.microsoftonline.us/",
		GraphURL:      "https://dod-graph.microsoft.us",
		GraphScope:    "https://dod-graph.microsoft.us/.default",
	},
}

// cloudPortal is where an app of the cloud is registered.
func cloudPortal(name string) string {
	if name == "global" {
		return "the Microsoft Entra admin center (entra.microsoft.com)"
	}
	return "Azure Government's Entra admin center (portal.azure.us)"
}

const cloudNames = "global, usgov (GCC High) or usgovdod (DoD)"

// cloudFix explains a cloud name we do not accept; ok is false for names we
// know nothing about.
func cloudFix(name string) (what, fix string) {
	switch normalize(name) {
	case "china", "azurechina", "21vianet", "mooncake", "chinacloud":
		return fmt.Sprintf("cloud %s: Secure Score is not offered in Microsoft Azure operated by 21Vianet", name),
			"fleetscore cannot collect from tenants in that cloud; remove them, or use " + cloudNames
	case "gcc", "gccmoderate", "public", "commercial", "worldwide", "azurepublic", "azurecloud":
		return fmt.Sprintf("unknown cloud %q", name), "write cloud: global (GCC moderate tenants use the global endpoints too)"
	case "gcchigh", "usgovernment", "azureusgovernment", "usgovl4", "government", "gov":
		return fmt.Sprintf("unknown cloud %q", name), "write cloud: usgov (GCC High); for DoD tenants write usgovdod"
	case "dod", "gccdod", "usgovl5", "usdod":
		return fmt.Sprintf("unknown cloud %q", name), "write cloud: usgovdod"
	case "germany", "azuregermany", "blackforest":
		return fmt.Sprintf("cloud %s: Microsoft Cloud Deutschland was closed; its tenants moved to the global cloud", name),
			"write cloud: global"
	}
	return fmt.Sprintf("unknown cloud %q", name), "use one of " + cloudNames
}

// endpoint checks a custom authority_host or graph_url: an absolute https URL
// with a host and nothing after the path.
func endpoint(raw string) (*url.URL, string) {
	u, err := url.Parse(strings.TrimSpace(raw))
	switch {
	case err != nil || u.Host == "" || u.Opaque != "":
		return nil, "is not a URL"
	case u.Scheme != "https":
		return nil, "must use https (Entra ID and Graph clients refuse anything else)"
	case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		return nil, "must be only scheme, host and path (no user, query or #fragment)"
	}
	return u, ""
}

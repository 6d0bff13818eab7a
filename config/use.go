package config

import "strings"

// Use names what a command does with the config, so that it needs only the
// secrets of that: an admin adding a user in a shell without the service's
// environment must not be stopped by a client secret the command never sends.
type Use uint8

const (
	// UseGraph is signing in to the tenants and reading Graph (collect,
	// check, serve): every app's certificate, PFX password or client secret.
	UseGraph Use = 1 << iota
	// UseChannels is sending alerts: every channel's URL, signing secret
	// and SMTP password.
	UseChannels
	// UseArchive is writing raw snapshots: the archive's connection string
	// or account key.
	UseArchive
	// UseServe is the web server: the /metrics token and the sign-in app's
	// client secret.
	UseServe

	// UseAll is everything; check and serve need it.
	UseAll = UseGraph | UseChannels | UseArchive | UseServe
)

func (u Use) String() string {
	var parts []string
	for _, x := range []struct {
		u    Use
		name string
	}{{UseGraph, "graph"}, {UseChannels, "channels"}, {UseArchive, "archive"}, {UseServe, "serve"}} {
		if u&x.u != 0 {
			parts = append(parts, x.name)
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "|")
}

// deferred is a problem with a secret, kept until a command that uses the
// secret asks for it with Require.
type deferred struct {
	use Use
	Problem
}

// Require returns the problems with the secrets that use needs, as an
// *Error in line order (nil when there are none). Load reports every other
// problem at once; a secret that cannot be loaded (an unset variable, a file
// that is missing or unreadable, a PFX password that does not open it) is
// reported only here, by the commands that need it.
func (c *Config) Require(use Use) error {
	var ps []Problem
	for _, d := range c.deferred {
		if d.use&use != 0 {
			ps = append(ps, d.Problem)
		}
	}
	if len(ps) == 0 {
		return nil
	}
	sortProblems(ps)
	return &Error{Problems: ps}
}

// secrets runs f, which loads secrets for use. What f reports with
// failSecret (a variable not set, a file missing or unreadable) is kept for
// Require instead of failing the whole file; every other problem (a name
// that is not a variable's, a file that is not a certificate) is reported
// by Load as usual.
func (p *parser) secrets(use Use, f func()) {
	prev := p.secretUse
	p.secretUse = use
	defer func() { p.secretUse = prev }()
	f()
}

// failSecret reports that a secret cannot be loaded: for Require when
// inside secrets, else at once.
func (p *parser) failSecret(line int, what, fix string) {
	if p.secretUse == 0 {
		p.fail(line, what, fix)
		return
	}
	p.deferred = append(p.deferred, deferred{p.secretUse, Problem{Path: p.path, Line: line, What: what, Fix: fix}})
}

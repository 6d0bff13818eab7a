package alert

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// StatusError is an HTTP channel's answer other than 2xx.
type StatusError struct {
	Status     int
	Body       string        // the start of the answer, without secrets
	RetryAfter time.Duration // from a Retry-After header; 0 when none
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("the channel answered %d %s", e.Status, http.StatusText(e.Status))
	if e.Status >= 300 && e.Status < 400 {
		msg += " (redirects are not followed: use the final URL)"
	}
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// Permanent reports whether trying again now is pointless: a 4xx other than
// 408, 425 and 429 (the URL is wrong or was revoked) or a redirect. The
// message still waits for the next evaluation, when the URL may be fixed.
func (e *StatusError) Permanent() bool {
	switch e.Status {
	case http.StatusRequestTimeout, http.StatusTooEarly, http.StatusTooManyRequests:
		return false
	}
	return e.Status >= 300 && e.Status < 500
}

// permanentError is an error no retry fixes within an evaluation.
type permanentError struct{ err error }

func (e permanentError) Error() string   { return e.err.Error() }
func (e permanentError) Unwrap() error   { return e.err }
func (e permanentError) Permanent() bool { return true }

func permanent(err error) bool {
	var p interface{ Permanent() bool }
	return errors.As(err, &p) && p.Permanent()
}

// maxAnswer is how much of an error answer is kept for the log.
const maxAnswer = 300

// postJSON posts body to the URL urlOf returns, with headers. The URL is a
// secret (whoever has a Teams or Slack webhook URL can post to the channel):
// no error shows it, not even the parts a transport error would quote.
func postJSON(ctx context.Context, client *http.Client, urlOf func() string, body []byte, headers http.Header) error {
	raw := ""
	if urlOf != nil {
		raw = urlOf()
	}
	if raw == "" {
		return permanentError{errors.New("the channel has no URL")}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, raw, bytes.NewReader(body))
	if err != nil {
		return permanentError{errors.New("the channel's URL is not a valid URL")}
	}
	for k, vs := range headers {
		req.Header[k] = vs
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "fleetscore-alerts")
	if client == nil {
		client = http.DefaultClient
	}
	noRedirect := *client
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := noRedirect.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("post to the channel's URL: %s", scrub(err.Error(), raw))
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // let the connection be reused
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	se := &StatusError{Status: resp.StatusCode, Body: scrub(strings.Join(strings.Fields(string(answer)), " "), raw)}
	if s := resp.Header.Get("Retry-After"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			se.RetryAfter = time.Duration(n) * time.Second
		} else if t, err := http.ParseTime(s); err == nil {
			se.RetryAfter = time.Until(t)
		}
	}
	return se
}

// scrub removes a URL, its path and its query from a text.
func scrub(s, raw string) string {
	if raw == "" {
		return s
	}
	secrets := []string{raw}
	if u, err := url.Parse(raw); err == nil {
		if u.RawQuery != "" {
			secrets = append(secrets, u.RawQuery)
		}
		if len(u.Path) > 1 {
			secrets = append(secrets, u.EscapedPath(), u.Path)
		}
		if u.User != nil {
			secrets = append(secrets, u.User.String())
		}
	}
	for _, x := range secrets {
		s = strings.ReplaceAll(s, x, "REDACTED")
	}
	return s
}

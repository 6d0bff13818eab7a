package alert

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The headers of a webhook request.
const (
	HeaderSignature = "X-Fleetscore-Signature" // sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">
	HeaderTimestamp = "X-Fleetscore-Timestamp" // Unix seconds when the request was signed
	HeaderEvent     = "X-Fleetscore-Event"     // firing, resolved or test
	HeaderDelivery  = "X-Fleetscore-Delivery"  // the message's ID, the same on every retry
)

// Webhook posts the Message as JSON to any URL, signed with a shared secret:
// the receiver recomputes the signature to know the request comes from
// fleetscore and was not altered, and refuses old timestamps to stop a
// captured request from being replayed (see Verify).
type Webhook struct {
	name   string
	url    func() string
	secret func() string
	client *http.Client
	now    func() time.Time
}

var _ Channel = (*Webhook)(nil)

// NewWebhook returns a webhook channel. url and secret return the URL and
// the signing secret; client nil means http.DefaultClient; now nil means
// time.Now (the timestamp signed).
func NewWebhook(name string, url, secret func() string, client *http.Client, now func() time.Time) *Webhook {
	if now == nil {
		now = time.Now
	}
	return &Webhook{name: name, url: url, secret: secret, client: client, now: now}
}

// Name is the channel's name in the config.
func (w *Webhook) Name() string { return w.name }

// Type is "webhook".
func (w *Webhook) Type() string { return "webhook" }

// String names the channel without its URL or secret.
func (w *Webhook) String() string { return "webhook channel " + w.name }

// Send posts the message, signed at the time of this attempt.
func (w *Webhook) Send(ctx context.Context, m Message) error {
	body, err := json.Marshal(m)
	if err != nil {
		return permanentError{fmt.Errorf("encode the webhook body: %w", err)}
	}
	secret := ""
	if w.secret != nil {
		secret = w.secret()
	}
	if secret == "" {
		return permanentError{errors.New("the webhook channel has no signing secret")}
	}
	ts := strconv.FormatInt(w.now().Unix(), 10)
	h := http.Header{}
	h.Set(HeaderTimestamp, ts)
	h.Set(HeaderSignature, Sign([]byte(secret), ts, body))
	h.Set(HeaderEvent, m.Event)
	h.Set(HeaderDelivery, strconv.FormatInt(m.ID, 10))
	return postJSON(ctx, w.client, w.url, body, h)
}

// Sign is the X-Fleetscore-Signature of a body sent at timestamp (Unix
// seconds, as in X-Fleetscore-Timestamp): "sha256=" and the hex HMAC-SHA256,
// keyed with the secret, of the timestamp, a dot, and the body.
func Sign(secret []byte, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(timestamp))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// DefaultTolerance is how old (or how far ahead) a signed timestamp may be.
const DefaultTolerance = 5 * time.Minute

// Verify checks a webhook request as its receiver should: the signature
// must be that of the timestamp and body, compared in constant time, and
// the timestamp within tolerance of now.
func Verify(secret []byte, timestamp, signature string, body []byte, now time.Time, tolerance time.Duration) error {
	sec, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("%s %q is not Unix seconds", HeaderTimestamp, timestamp)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%s is %s away from now: a replayed or delayed request", HeaderTimestamp, d.Round(time.Second))
	}
	if !strings.HasPrefix(signature, "sha256=") {
		return fmt.Errorf("%s does not start with sha256=", HeaderSignature)
	}
	if !hmac.Equal([]byte(Sign(secret, timestamp, body)), []byte(signature)) {
		return fmt.Errorf("%s does not match the body", HeaderSignature)
	}
	return nil
}

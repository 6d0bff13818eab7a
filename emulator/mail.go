package emulator

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

// POST /users/{id}/sendMail, as Microsoft documents user: sendMail: the
// app needs the application permission Mail.Send (Tenant.MailApps); the
// body is {"message": {subject, body {contentType Text|HTML, content},
// toRecipients [{emailAddress {address}}], attachments [fileAttachment
// with base64 contentBytes]}, "saveToSentItems"}; the answer is 202
// Accepted with an empty body. A missing role is 403 ErrorAccessDenied,
// as Exchange Online answers (also when an application access policy
// leaves the mailbox out: Tenant.Mailboxes lists the mailboxes that may
// send when set). The messages taken are kept for tests (SentMail).

const (
	roleMailSend      = "Mail.Send"
	roleSMTPSendAsApp = "SMTP.SendAsApp" // Exchange Online tokens, for SMTP XOAUTH2
)

// SentMailRecord is one sendMail request a tenant received with a valid
// token of the tenant, whatever the answer.
type SentMailRecord struct {
	Sender   string    // the {id} of the URL, as sent
	Body     []byte    // the request body, as sent
	AppID    string    // the token's appid
	Audience string    // the token's aud
	Roles    []string  // the token's roles
	At       time.Time // the data clock when it arrived
	Status   int       // the answer
}

// SentMail returns the sendMail requests of a tenant, oldest first.
func (e *Emulator) SentMail(tenantID string) []SentMailRecord {
	te := e.entry(tenantID)
	if te == nil {
		return nil
	}
	te.mu.Lock()
	defer te.mu.Unlock()
	out := make([]SentMailRecord, len(te.mails))
	for i, m := range te.mails {
		m.Body = append([]byte(nil), m.Body...)
		m.Roles = slices.Clone(m.Roles)
		out[i] = m
	}
	return out
}

func (e *Emulator) recordMail(g *gctx) int {
	g.body, _ = io.ReadAll(http.MaxBytesReader(g.w, g.r.Body, 8<<20))
	rec := SentMailRecord{Sender: g.r.PathValue("id"), Body: g.body, AppID: g.claims.AppID, Audience: g.claims.Aud,
		Roles: slices.Clone(g.claims.Roles), At: e.now().UTC()}
	g.te.mu.Lock()
	defer g.te.mu.Unlock()
	g.te.mails = append(g.te.mails, rec)
	return len(g.te.mails) - 1
}

func (e *Emulator) mailAnswered(te *tenantEntry, i, status int) {
	te.mu.Lock()
	defer te.mu.Unlock()
	te.mails[i].Status = status
}

// mailer reports whether an app is consented with Mail.Send in a tenant.
func (e *Emulator) mailer(def *tenantDef, clientID string) bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return def.mailers[strings.ToLower(clientID)]
}

// reader reports whether an app is consented to read Secure Score in a
// tenant: any consent but Mail.Send alone.
func (e *Emulator) reader(def *tenantDef, clientID string) bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	id := strings.ToLower(clientID)
	return def.consented[id] || def.writers[id] || e.consentAll[id] || !def.mailers[id]
}

// sendMailBody is what the emulator reads of a sendMail body.
type sendMailBody struct {
	Message *struct {
		Subject string `json:"subject"`
		Body    *struct {
			ContentType string `json:"contentType"`
			Content     string `json:"content"`
		} `json:"body"`
		ToRecipients []struct {
			EmailAddress struct {
				Address string `json:"address"`
			} `json:"emailAddress"`
		} `json:"toRecipients"`
		Attachments []struct {
			ODataType    string `json:"@odata.type"`
			Name         string `json:"name"`
			ContentBytes []byte `json:"contentBytes"` // base64; a bad one fails Unmarshal
		} `json:"attachments"`
	} `json:"message"`
	SaveToSentItems *bool `json:"saveToSentItems"`
}

func (e *Emulator) serveSendMail(g *gctx) bool {
	if !g.claims.hasExactRole(roleMailSend) {
		e.count(g.te, func(s *Stats) { s.Forbidden++ })
		e.graphError(g, http.StatusForbidden, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
		return false
	}
	sender := g.r.PathValue("id")
	if boxes := g.def.mailboxes; len(boxes) > 0 && !boxes[strings.ToLower(sender)] {
		e.graphError(g, http.StatusNotFound, "ErrorInvalidUser", "The requested user '"+sender+"' is invalid.")
		return false
	}
	var b sendMailBody
	if err := json.Unmarshal(g.body, &b); err != nil || b.Message == nil {
		return e.badRequest(g, "Empty Payload. JSON content expected.")
	}
	m := b.Message
	if m.Body != nil && !strings.EqualFold(m.Body.ContentType, "text") && !strings.EqualFold(m.Body.ContentType, "html") {
		return e.badRequest(g, "Requested value '"+m.Body.ContentType+"' was not found.")
	}
	if len(m.ToRecipients) == 0 {
		e.graphError(g, http.StatusBadRequest, "ErrorInvalidRecipients", "At least one recipient isn't valid., Recipient is missing.")
		return false
	}
	for _, r := range m.ToRecipients {
		if !strings.Contains(r.EmailAddress.Address, "@") {
			e.graphError(g, http.StatusBadRequest, "ErrorInvalidRecipients", "At least one recipient isn't valid., A message can't be sent because it contains no recipients.")
			return false
		}
	}
	for _, a := range m.Attachments {
		if a.ODataType != "#microsoft.graph.fileAttachment" || a.Name == "" {
			return e.badRequest(g, "The attachment must have @odata.type #microsoft.graph.fileAttachment and a name.")
		}
	}
	g.status = http.StatusAccepted
	g.w.WriteHeader(http.StatusAccepted)
	return true
}

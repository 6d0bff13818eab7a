package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	netmail "net/mail"
	"net/url"
	"slices"
	"strings"

	"github.com/fleetscore/fleetscore/mail"
)

// MailRole is the application permission sendMail needs.
const MailRole = "Mail.Send"

// maxSendMailBytes is the largest sendMail request Graph takes: 4 MB, the
// limit of a Graph request (larger attachments need an upload session).
const maxSendMailBytes = 4 << 20

// MailSender sends mail as one mailbox through Microsoft Graph's
// POST /users/{sender}/sendMail, with the app's own token (application
// permission Mail.Send): no SMTP at all. It is a mail.Sender.
type MailSender struct {
	c      *Client
	t      Target
	sender string
}

var _ mail.Sender = (*MailSender)(nil)

// MailSender returns a sender that mails as sender (an address, or the
// mailbox's user ID) with the target's credential in the target's tenant.
func (c *Client) MailSender(t Target, sender string) *MailSender {
	return &MailSender{c: c, t: t, sender: sender}
}

// String names the mailbox and tenant, without any secret.
func (s *MailSender) String() string {
	return fmt.Sprintf("graph sendMail as %s in tenant %s", s.sender, s.t.TenantID)
}

// sendMail is the request body, field for field as Microsoft documents
// user: sendMail (https://learn.microsoft.com/graph/api/user-sendmail).
type sendMail struct {
	Message         mailMessage `json:"message"`
	SaveToSentItems bool        `json:"saveToSentItems"`
}

type mailMessage struct {
	Subject                string           `json:"subject"`
	Body                   mailBody         `json:"body"`
	ToRecipients           []mailRecipient  `json:"toRecipients"`
	Attachments            []fileAttachment `json:"attachments,omitempty"`
	InternetMessageHeaders []mailHeader     `json:"internetMessageHeaders,omitempty"`
}

type mailBody struct {
	ContentType string `json:"contentType"` // "Text" or "HTML"
	Content     string `json:"content"`
}

type mailRecipient struct {
	EmailAddress mailAddress `json:"emailAddress"`
}

type mailAddress struct {
	Address string `json:"address"`
	Name    string `json:"name,omitempty"`
}

type fileAttachment struct {
	ODataType    string `json:"@odata.type"` // "#microsoft.graph.fileAttachment"
	Name         string `json:"name"`
	ContentType  string `json:"contentType,omitempty"`
	ContentBytes []byte `json:"contentBytes"` // encoding/json writes []byte as base64
}

type mailHeader struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Send posts m to sendMail. Graph takes one body: the HTML when m has
// one, else the text. Only headers starting X- are sent (Graph takes no
// others). The copy is not saved to Sent Items. Graph answers 202 when it
// has taken the message; errors say what to grant or fix, and those no
// retry fixes are Permanent.
func (s *MailSender) Send(ctx context.Context, m mail.Message) error {
	body, err := s.body(m)
	if err != nil {
		return &mail.Error{Msg: "graph_mail: " + err.Error(), Perm: true}
	}
	_, err = s.c.send(ctx, s.t, request{method: http.MethodPost, url: s.url(), body: body, write: true}, new([]byte))
	if err == nil {
		return nil
	}
	e, ok := AsError(err)
	if !ok {
		return &mail.Error{Msg: "graph_mail: " + scrub(err.Error())}
	}
	s.advise(ctx, e)
	msg := "graph_mail as " + s.sender + ": " + e.Error()
	if e.Advice != "" {
		msg += ": " + e.Advice
	}
	perm := false
	switch e.Status {
	case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusRequestEntityTooLarge:
		perm = true
	}
	switch e.Kind {
	case KindNotConsented, KindBadSecret, KindBadCertificate, KindTenantNotFound:
		perm = true
	}
	return &mail.Error{Msg: msg, Perm: perm}
}

func (s *MailSender) url() string {
	return s.c.base.String() + "/v1.0/users/" + url.PathEscape(s.sender) + "/sendMail"
}

func (s *MailSender) body(m mail.Message) ([]byte, error) {
	if len(m.To) == 0 {
		return nil, errors.New("no recipients")
	}
	msg := mailMessage{Subject: strings.NewReplacer("\r", " ", "\n", " ").Replace(m.Subject),
		Body: mailBody{ContentType: "Text", Content: m.Text}}
	if m.HTML != "" {
		msg.Body = mailBody{ContentType: "HTML", Content: m.HTML}
	}
	for _, to := range m.To {
		a, err := netmail.ParseAddress(to)
		if err != nil {
			return nil, fmt.Errorf("to %q is not an address", to)
		}
		msg.ToRecipients = append(msg.ToRecipients, mailRecipient{EmailAddress: mailAddress{Address: a.Address, Name: a.Name}})
	}
	for _, a := range m.Attachments {
		ct := a.ContentType
		if ct == "" {
			ct = "application/octet-stream"
		}
		msg.Attachments = append(msg.Attachments, fileAttachment{ODataType: "#microsoft.graph.fileAttachment",
			Name: a.Name, ContentType: ct, ContentBytes: a.Data})
	}
	for _, k := range sortedHeaderNames(m.Headers) {
		if strings.HasPrefix(strings.ToLower(k), "x-") {
			msg.InternetMessageHeaders = append(msg.InternetMessageHeaders, mailHeader{Name: k, Value: m.Headers[k]})
		}
	}
	b, err := json.Marshal(sendMail{Message: msg, SaveToSentItems: false})
	if err != nil {
		return nil, err
	}
	if len(b) > maxSendMailBytes {
		return nil, fmt.Errorf("the message is %d KB with its attachments, over the 4 MB Graph takes in one sendMail request", len(b)>>10)
	}
	return b, nil
}

// advise replaces the Secure Score advice of a refused request with what
// sendMail needs.
func (s *MailSender) advise(ctx context.Context, e *Error) {
	grant := fmt.Sprintf("add the Microsoft Graph application permission %s to the app registration %s and grant admin consent in tenant %s; "+
		"if Exchange Online limits the app to some mailboxes (an application access policy, New-ApplicationAccessPolicy, or RBAC for Applications), "+
		"include %s in the group or scope it may send as", MailRole, s.t.ClientID, s.t.TenantID, s.sender)
	switch {
	case e.Code == "ErrorAccessDenied" || e.Status == http.StatusForbidden:
		have := RoleUnknown
		if tok, err := s.c.token(ctx, s.t); err == nil {
			have = tokenRoles(tok, MailRole)
		}
		switch have {
		case RoleLacking:
			e.Advice = fmt.Sprintf("the app's token carries no %s role: ", MailRole) + grant
		case RoleGranted:
			e.Advice = fmt.Sprintf("the token carries %s, so an Exchange Online application access policy (or RBAC for Applications) keeps the app from sending as %s: "+
				"include the mailbox in the policy's group (Test-ApplicationAccessPolicy -Identity %s -AppId %s shows the verdict)", MailRole, s.sender, s.sender, s.t.ClientID)
		default:
			e.Advice = grant
		}
	case e.Code == "ErrorInvalidUser" || e.Code == "MailboxNotEnabledForRESTAPI" || e.Code == "ResourceNotFound" || e.Status == http.StatusNotFound:
		e.Advice = fmt.Sprintf("sender %s is not a mailbox in tenant %s: use the address (or object ID) of a user or shared mailbox with an Exchange Online licence there", s.sender, s.t.TenantID)
	case e.Code == "ErrorInvalidRecipients" || e.Status == http.StatusBadRequest:
		e.Advice = "Graph refused the message as sent: check the recipients' addresses (to:) and the sender"
	case e.Status == http.StatusRequestEntityTooLarge:
		e.Advice = "the message with its attachments is too large for one sendMail request (4 MB)"
	case e.Status == http.StatusUnauthorized:
		e.Advice = "Graph did not accept the token: check the channel's tenant_id and that the cloud matches the authority"
	}
}

func sortedHeaderNames(h map[string]string) []string { return slices.Sorted(maps.Keys(h)) }

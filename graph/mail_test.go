package graph_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/fleetscore/fleetscore/emulator"
	"github.com/fleetscore/fleetscore/graph"
	"github.com/fleetscore/fleetscore/mail"
)

const sender = "fleetscore@mssp.example"

// mailTenant adds the MSSP's own tenant, with the app consented for
// Mail.Send when mailSend, and returns its target.
func (f *writeFixture) mailTenant(t *testing.T, mailSend bool) graph.Target {
	t.Helper()
	spec := emulator.Tenant{Name: "MSSP", Mailboxes: []string{sender}, Controls: 20}
	if mailSend {
		spec.MailApps = []string{appID}
	} else {
		spec.ConsentedApps = []string{appID} // consented, but for Secure Score only
	}
	info := f.emu.AddTenant(spec)
	tg := f.cred
	tg.TenantID = info.ID
	return tg
}

func report() mail.Message {
	return mail.Message{
		To:      []string{"SOC <soc@client.example>", "noc@client.example"},
		Subject: "Contoso: Secure Score for November",
		Text:    "Secure Score 61.5 %",
		HTML:    "<p>Secure Score <b>61.5 %</b></p>",
		Attachments: []mail.Attachment{
			{Name: "Contoso 2026-11.pdf", ContentType: "application/pdf", Data: []byte("%PDF-1.7\x00\xff\x10binary")},
		},
		Headers: map[string]string{"X-Fleetscore-Event": "report", "Auto-Submitted": "auto-generated"},
	}
}

// TestGraphSendMail sends a report through the emulator's sendMail and
// asserts the request Graph got, field for field, and the token's audience.
func TestGraphSendMail(t *testing.T) {
	f := newWriteFixture(t)
	tg := f.mailTenant(t, true)
	s := f.gc.MailSender(tg, sender)
	if err := s.Send(context.Background(), report()); err != nil {
		t.Fatal(err)
	}
	recs := f.emu.SentMail(tg.TenantID)
	if len(recs) != 1 || recs[0].Status != 202 || recs[0].Sender != sender {
		t.Fatalf("sendMail requests %+v", recs)
	}
	r := recs[0]
	if r.Audience != "https://graph.microsoft.com" || !slices.Contains(r.Roles, "Mail.Send") || r.AppID != appID {
		t.Errorf("token aud %q roles %v app %q: want Graph's audience (scope https://graph.microsoft.com/.default) with Mail.Send", r.Audience, r.Roles, r.AppID)
	}
	var body struct {
		Message struct {
			Subject string `json:"subject"`
			Body    struct {
				ContentType string `json:"contentType"`
				Content     string `json:"content"`
			} `json:"body"`
			ToRecipients []map[string]map[string]string `json:"toRecipients"`
			Attachments  []map[string]string            `json:"attachments"`
			Headers      []struct {
				Name, Value string
			} `json:"internetMessageHeaders"`
		} `json:"message"`
		SaveToSentItems *bool `json:"saveToSentItems"`
	}
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatal(err)
	}
	m := body.Message
	if m.Subject != "Contoso: Secure Score for November" || m.Body.ContentType != "HTML" || m.Body.Content != "<p>Secure Score <b>61.5 %</b></p>" {
		t.Errorf("subject %q body %+v", m.Subject, m.Body)
	}
	if len(m.ToRecipients) != 2 || m.ToRecipients[0]["emailAddress"]["address"] != "soc@client.example" || m.ToRecipients[0]["emailAddress"]["name"] != "SOC" ||
		m.ToRecipients[1]["emailAddress"]["address"] != "noc@client.example" {
		t.Errorf("toRecipients %+v", m.ToRecipients)
	}
	if len(m.Attachments) != 1 {
		t.Fatalf("attachments %v", m.Attachments)
	}
	a := m.Attachments[0]
	data, err := base64.StdEncoding.DecodeString(a["contentBytes"])
	if a["@odata.type"] != "#microsoft.graph.fileAttachment" || a["name"] != "Contoso 2026-11.pdf" || a["contentType"] != "application/pdf" ||
		err != nil || !bytes.Equal(data, report().Attachments[0].Data) {
		t.Errorf("attachment %v (%v)", a, err)
	}
	if len(m.Headers) != 1 || m.Headers[0].Name != "X-Fleetscore-Event" || m.Headers[0].Value != "report" {
		t.Errorf("internetMessageHeaders %+v: want only the X- one", m.Headers)
	}
	if body.SaveToSentItems == nil || *body.SaveToSentItems {
		t.Errorf("saveToSentItems %v, want false", body.SaveToSentItems)
	}

	// Text only: contentType Text.
	txt := report()
	txt.HTML, txt.Attachments = "", nil
	if err := s.Send(context.Background(), txt); err != nil {
		t.Fatal(err)
	}
	recs = f.emu.SentMail(tg.TenantID)
	if len(recs) != 2 || !strings.Contains(string(recs[1].Body), `"body":{"contentType":"Text","content":"Secure Score 61.5 %"}`) ||
		strings.Contains(string(recs[1].Body), "attachments") {
		t.Errorf("text-only body %s", recs[len(recs)-1].Body)
	}
}

// TestGraphSendMailRefused: an app without Mail.Send gets Graph's
// ErrorAccessDenied, turned into what to grant; a sender that is not a
// mailbox says so. Both are permanent, and nothing is sent twice.
func TestGraphSendMailRefused(t *testing.T) {
	f := newWriteFixture(t)
	check := func(t *testing.T, err error, wants ...string) {
		t.Helper()
		var p interface{ Permanent() bool }
		if err == nil || !errors.As(err, &p) || !p.Permanent() {
			t.Fatalf("error %v, want a permanent one", err)
		}
		for _, w := range wants {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error lacks %q:\n%v", w, err)
			}
		}
		if strings.Contains(err.Error(), appSecret) {
			t.Errorf("error shows the secret: %v", err)
		}
	}
	t.Run("no Mail.Send", func(t *testing.T) {
		tg := f.mailTenant(t, false)
		err := f.gc.MailSender(tg, sender).Send(context.Background(), report())
		check(t, err, "Graph answered 403", "ErrorAccessDenied", "carries no Mail.Send role",
			"add the Microsoft Graph application permission Mail.Send", "grant admin consent in tenant "+tg.TenantID,
			"application access policy", "include "+sender)
		if recs := f.emu.SentMail(tg.TenantID); len(recs) != 1 || recs[0].Status != 403 {
			t.Errorf("requests %+v: want one, refused", recs)
		}
	})
	t.Run("not a mailbox", func(t *testing.T) {
		tg := f.mailTenant(t, true)
		err := f.gc.MailSender(tg, "nobody@mssp.example").Send(context.Background(), report())
		check(t, err, "404", "ErrorInvalidUser", "sender nobody@mssp.example is not a mailbox in tenant "+tg.TenantID)
	})
	t.Run("too large", func(t *testing.T) {
		tg := f.mailTenant(t, true)
		m := report()
		m.Attachments[0].Data = make([]byte, 4<<20)
		check(t, f.gc.MailSender(tg, sender).Send(context.Background(), m), "over the 4 MB")
		if n := len(f.emu.SentMail(tg.TenantID)); n != 0 {
			t.Errorf("%d requests sent", n)
		}
	})
}

package report_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/fleetscore/fleetscore/alert/alerttest"
	"github.com/fleetscore/fleetscore/mail"
	"github.com/fleetscore/fleetscore/report"
	"github.com/fleetscore/fleetscore/report/reporttest"
)

func TestScheduleDue(t *testing.T) {
	monthly := report.Schedule{Every: report.Monthly, Day: 1, Hour: 7}
	quarterly := report.Schedule{Every: report.Quarterly, Day: 2, Hour: 6, Minute: 30}
	for _, tc := range []struct {
		s    report.Schedule
		now  string
		want string // the period due, "" for none
	}{
		{monthly, "2026-12-01T06:59:59Z", ""},
		{monthly, "2026-12-01T07:00:00Z", "2026-11"},
		{monthly, "2026-12-07T06:59:00Z", "2026-11"}, // within the catch-up week
		{monthly, "2026-12-08T07:00:00Z", ""},
		{monthly, "2026-11-30T07:00:00Z", ""}, // the day before: November is not over, October's week has passed
		{monthly, "2027-01-01T07:00:00Z", "2026-12"},
		{quarterly, "2027-01-02T06:30:00Z", "2026-Q4"},
		{quarterly, "2027-01-02T06:29:00Z", ""},
		{quarterly, "2027-02-02T06:30:00Z", ""}, // not a quarter's first month
		{quarterly, "2026-10-05T00:00:00Z", "2026-Q3"},
	} {
		now, _ := time.Parse(time.RFC3339, tc.now)
		p, _, ok := tc.s.Due(now)
		if got := map[bool]string{true: p.Key}[ok]; got != tc.want {
			t.Errorf("%s at %s: due %q, want %q", tc.s, tc.now, got, tc.want)
		}
	}
}

// smtpSender is mail.SMTP speaking to the test receiver.
func smtpSender(t *testing.T, srv *alerttest.SMTPServer) mail.Sender {
	t.Helper()
	host, port, _ := net.SplitHostPort(srv.Addr)
	n, _ := strconv.Atoi(port)
	s, err := mail.NewSMTP(mail.SMTPConfig{Host: host, Port: n, From: "reports@northwind.example", RootCAs: srv.CAPool})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestScheduledSend(t *testing.T) {
	f, first := fleet(t, 3)
	ctx := context.Background()
	srv := alerttest.NewSMTPServer(t, alerttest.SMTPOptions{})
	to := map[string][]string{
		first.ID:            {"it@cafe-lumiere.example", "Zoë Brien <zoe@obrien.example>"},
		f.Jobs[1].Tenant.ID: {"ops@fabrikam.example"},
	}
	clock := time.Date(2026, 11, 30, 7, 0, 0, 0, time.UTC) // the day before the schedule
	d := &report.Deliverer{Source: f.Store, Log: f.Store, Sender: smtpSender(t, srv),
		Branding: report.Branding{Name: "Northwind MSSP"},
		Schedule: &report.Schedule{Every: report.Monthly, Day: 1, Hour: 7},
		Now:      func() time.Time { return clock }}
	for _, j := range f.Jobs[:2] {
		d.Recipients = append(d.Recipients, report.Recipients{TenantID: j.Tenant.ID, To: to[j.Tenant.ID]})
	}
	if _, out, err := d.Run(ctx); err != nil || len(out) != 0 || len(srv.Mails()) != 0 {
		t.Fatalf("the day before: %v, %v, %d mails; want nothing sent", out, err, len(srv.Mails()))
	}

	// One failure at the first run of the day: that tenant is tried again
	// at the next run, the other is not sent twice.
	clock = time.Date(2026, 12, 1, 7, 5, 0, 0, time.UTC)
	srv.FailNext(1)
	p, out, err := d.Run(ctx)
	if p.Key != "2026-11" || err == nil || len(out) != 2 {
		t.Fatalf("first run: period %q, %d outcomes, err %v; want 2026-11, one failed", p.Key, len(out), err)
	}
	if len(srv.Mails()) != 1 {
		t.Fatalf("%d mails taken after a refused one, want 1", len(srv.Mails()))
	}
	clock = clock.Add(time.Hour)
	if _, _, err := d.Run(ctx); err != nil {
		t.Fatal(err)
	}
	mails := srv.Mails()
	if len(mails) != 2 {
		t.Fatalf("%d mails, want one per tenant with recipients (2)", len(mails))
	}
	sent, err := f.Store.SentReports(ctx, "2026-11")
	if err != nil || len(sent) != 2 {
		t.Fatalf("recorded %v, %v; want 2", sent, err)
	}
	for _, m := range mails {
		var rec report.Sent
		for _, s := range sent {
			if slices.Equal(s.Recipients, to[s.TenantID]) && len(m.To) == len(s.Recipients) {
				rec = s
			}
		}
		if rec.TenantID == "" {
			t.Fatalf("mail to %v matches no record %v", m.To, sent)
		}
		if len(m.Attachments) != 1 || m.Attachments[0].ContentType != "application/pdf" || !bytes.HasPrefix(m.Attachments[0].Data, []byte("%PDF-")) {
			t.Fatalf("mail to %v: attachments %v, want one PDF", m.To, m.Attachments)
		}
		pdf := m.Attachments[0].Data
		sum := sha256.Sum256(pdf)
		if rec.Bytes != len(pdf) || rec.SHA256 != hex.EncodeToString(sum[:]) {
			t.Errorf("record %+v does not match the PDF sent (%d bytes)", rec, len(pdf))
		}
		if rec.TenantID == first.ID {
			if want := []string{"it@cafe-lumiere.example", "zoe@obrien.example"}; !slices.Equal(m.To, want) {
				t.Errorf("RCPT TO %v, want %v", m.To, want)
			}
			if text := reporttest.Text(t, pdf); !bytes.Contains([]byte(text), []byte("Café Lumière — O'Brien & Søn")) {
				t.Errorf("the attached PDF lacks the tenant's name:\n%s", text)
			}
		}
	}
	// Again later that day: nothing twice.
	clock = clock.Add(3 * time.Hour)
	_, out, err = d.Run(ctx)
	if err != nil || len(srv.Mails()) != 2 {
		t.Fatalf("the third run sent again: %d mails, %v", len(srv.Mails()), err)
	}
	for _, o := range out {
		if !o.AlreadySent {
			t.Errorf("%s: %+v, want already sent", o.TenantID, o)
		}
	}
}

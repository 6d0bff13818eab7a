package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleetscore/fleetscore/alert/alerttest"
	"github.com/fleetscore/fleetscore/config"
	"github.com/fleetscore/fleetscore/report"
)

// TestReportCommands: after a collection, `report` writes a tenant's PDF
// and HTML; `report send --dry-run` sends nothing; the schedule's run
// after a collection (its clock on the first of the month, 07:30) mails
// each tenant with report_to its PDF through reports.channel; `report
// send` of the same period then sends nothing twice.
func TestReportCommands(t *testing.T) {
	srv := alerttest.NewSMTPServer(t, alerttest.SMTPOptions{})
	cfgPath, ids := writeConfig(t, []tenantSpec{
		{name: "Café Lumière", consent: true, app: "    report_to: [it@cafe.example]\n"},
		{name: "O'Brien & Søn", consent: true, app: "    report_to: [\"Zoë <zoe@obrien.example>\", ops@obrien.example]\n"},
		{name: "Fabrikam", consent: true},
	})
	// Collected before the reports: block is written: collect would send
	// them itself when the wall clock is in the schedule's catch-up week.
	if r := runCmd(t, nil, "collect", "--config", cfgPath); r.err != nil {
		t.Fatal(r.err, r.stderr)
	}
	f, err := os.OpenFile(cfgPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "channels:\n  - name: reports-mail\n    type: email\n    smtp: %s\n    from: reports@northwind.example\n    to: soc@northwind.example\n    ca_file: %s\n", srv.Addr, srv.CAFile)
	fmt.Fprintf(f, "reports:\n  name: Northwind MSSP\n  paper: letter\n  schedule: {every: monthly, day: 1, at: \"07:00\"}\n  channel: reports-mail\n")
	f.Close()
	p := report.LastMonth(time.Now())
	out := filepath.Join(t.TempDir(), "r.pdf")
	r := runCmd(t, nil, "report", "--config", cfgPath, "--tenant", ids[0], "--period", p.Key, "--out", out)
	if r.err != nil {
		t.Fatal(r.err, r.stderr)
	}
	if b, err := os.ReadFile(out); err != nil || !bytes.HasPrefix(b, []byte("%PDF-")) {
		t.Fatalf("report --out: %v", err)
	}
	r = runCmd(t, nil, "report", "--config", cfgPath, "--tenant", ids[1], "--period", p.Key, "--format", "html", "--out", "-")
	if r.err != nil || !strings.Contains(r.stdout, "O&#39;Brien &amp; Søn") || !strings.Contains(r.stdout, "Northwind MSSP") {
		t.Fatalf("report --format html: %v\n%.300s", r.err, r.stdout)
	}
	for _, bad := range [][]string{{"--tenant", ids[0], "--period", "2026-13", "--out", out}, {"--tenant", ids[0], "--format", "doc", "--out", out},
		{"--period", p.Key, "--out", out}, {"--tenant", "0badc0de-0000-4000-8000-00000000dead", "--out", out}} {
		if r := runCmd(t, nil, append([]string{"report", "--config", cfgPath}, bad...)...); r.err == nil {
			t.Errorf("report %v: no error", bad)
		}
	}
	r = runCmd(t, nil, "report", "send", "--config", cfgPath, "--period", p.Key, "--dry-run")
	if r.err != nil || strings.Count(r.stdout, "would send") != 2 || len(srv.Mails()) != 0 {
		t.Fatalf("send --dry-run: %v, %d mails\n%s", r.err, len(srv.Mails()), r.stdout)
	}

	// The schedule after a collection, on its day.
	cfg, err := config.Load(cfgPath, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	store, _, err := reportStore(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	y, m, _ := time.Now().UTC().Date()
	due := time.Date(y, m, 1, 7, 30, 0, 0, time.UTC)
	reportsAfterRun(cfg, store, slog.New(slog.DiscardHandler), func() time.Time { return due.Add(-24 * time.Hour) })(context.Background())
	if n := len(srv.Mails()); n != 0 {
		t.Fatalf("the day before the schedule sent %d mails", n)
	}
	reportsAfterRun(cfg, store, slog.New(slog.DiscardHandler), func() time.Time { return due })(context.Background())
	store.Close()
	mails := srv.Mails()
	if len(mails) != 2 {
		t.Fatalf("%d mails, want one per tenant with report_to", len(mails))
	}
	for _, m := range mails {
		if len(m.Attachments) != 1 || !bytes.HasPrefix(m.Attachments[0].Data, []byte("%PDF-")) || !strings.HasSuffix(m.Attachments[0].Name, p.Key+".pdf") {
			t.Errorf("mail to %v: attachments %v", m.To, m.Attachments)
		}
	}
	r = runCmd(t, nil, "report", "send", "--config", cfgPath, "--period", p.Key)
	if r.err != nil || strings.Count(r.stdout, "already sent") != 2 || len(srv.Mails()) != 2 {
		t.Errorf("send again: %v, %d mails\n%s", r.err, len(srv.Mails()), r.stdout)
	}
}

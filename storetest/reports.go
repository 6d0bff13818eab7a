package storetest

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/report"
)

func testReportsSent(t *testing.T, s fleetscore.Store) {
	ctx := context.Background()
	l, ok := s.(report.Log)
	if !ok {
		t.Fatal("the store keeps no log of the reports sent (report.Log)")
	}
	at := time.Date(2026, 12, 1, 7, 0, 0, 123456789, time.UTC)
	a := report.Sent{TenantID: tenantA.ID, Period: "2026-11", SentAt: at, Recipients: []string{"it@contoso.example", "Zoë <zoe@contoso.example>"},
		Bytes: 48213, SHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}
	if err := l.RecordSent(ctx, a); err != nil {
		t.Fatal(err)
	}
	again := a
	again.SentAt, again.Bytes = at.Add(time.Hour), 1
	if err := l.RecordSent(ctx, again); !errors.Is(err, report.ErrAlreadySent) {
		t.Fatalf("a second report of the same tenant and period: %v, want ErrAlreadySent", err)
	}
	b := report.Sent{TenantID: tenantB.ID, Period: "2026-11", SentAt: at.Add(time.Minute), Recipients: []string{"ops@fabrikam.example"}, Bytes: 1, SHA256: "00"}
	q := report.Sent{TenantID: tenantA.ID, Period: "2026-Q4", SentAt: at.Add(2 * time.Minute), Recipients: []string{"it@contoso.example"}, Bytes: 2, SHA256: "01"}
	for _, r := range []report.Sent{b, q} {
		if err := l.RecordSent(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	got, err := l.SentReports(ctx, "2026-11")
	if err != nil {
		t.Fatal(err)
	}
	if want := []report.Sent{a, b}; !reflect.DeepEqual(got, want) {
		t.Errorf("November's reports = %+v\nwant %+v (the first record kept)", got, want)
	}
	all, err := l.SentReports(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if want := []report.Sent{a, b, q}; !reflect.DeepEqual(all, want) {
		t.Errorf("every report = %+v\nwant %+v", all, want)
	}
	none, err := l.SentReports(ctx, "2026-10")
	if err != nil || len(none) != 0 {
		t.Errorf("October's reports = %v, %v; want none", none, err)
	}
}

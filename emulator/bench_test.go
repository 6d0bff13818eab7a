package emulator

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// BenchmarkServeScores90Days measures generating one tenant's 90-day
// secureScores list (the backfill request), without TLS and network: the
// figure to compare with the client's decoding speed. b.SetBytes makes
// `go test -bench` report MB/s.
func BenchmarkServeScores90Days(b *testing.B) {
	now := time.Date(2026, 3, 15, 10, 0, 0, 0, time.UTC)
	e := New(Options{Seed: 7, Tenants: 50, Now: func() time.Time { return now }, Unthrottled: true})
	tenants := e.Tenants()
	tokens := make([]string, len(tenants))
	for i, t := range tenants {
		tokens[i] = e.issueAccessToken(accessClaims{Aud: "https://graph.microsoft.com", Tid: t.ID, AppID: "bench",
			Roles: []string{roleSecurityEventsRead}, Nbf: now.Unix() - 60, Exp: time.Now().Unix() + 3600})
	}
	h := e.routes()
	var total int64
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := i % len(tenants)
		req := httptest.NewRequest(http.MethodGet, "https://127.0.0.1/v1.0/security/secureScores", nil)
		req.Header.Set("Authorization", "Bearer "+tokens[k])
		w := &discardWriter{h: http.Header{}}
		h.ServeHTTP(w, req)
		if w.status != http.StatusOK {
			b.Fatalf("status %d", w.status)
		}
		total += w.n
	}
	b.SetBytes(total / int64(b.N))
}

type discardWriter struct {
	h      http.Header
	status int
	n      int64
}

func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) WriteHeader(s int)   { w.status = s }
func (w *discardWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.n += int64(len(p))
	return len(p), nil
}

// BenchmarkServeScores90DaysHTTPS is the same request through TLS and HTTP/2
// with the emulator's own client, as the collector sees it.
func BenchmarkServeScores90DaysHTTPS(b *testing.B) {
	now := time.Date(2026, 3, 15, 10, 0, 0, 0, time.UTC)
	e := startEmulator(b, Options{Seed: 7, Tenants: 50, Now: func() time.Time { return now }, Unthrottled: true})
	tenants := e.Tenants()
	tokens := make([]string, len(tenants))
	for i, t := range tenants {
		tokens[i] = token(b, e, t.ID)
	}
	var mu sync.Mutex
	var total int64
	var n int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			req, _ := http.NewRequest(http.MethodGet, e.URL()+"/v1.0/security/secureScores", nil)
			req.Header.Set("Authorization", "Bearer "+tokens[i%len(tokens)])
			resp, err := e.Client().Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			c, _ := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			mu.Lock()
			total += c
			n++
			mu.Unlock()
		}
	})
	if n > 0 {
		b.SetBytes(total / n)
	}
}

package graph

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

type statuses []int

func (s *statuses) Answer(status int) { *s = append(*s, status) }

// TestCountAnswers: each answer is counted by its status, a refused
// redirect by its 3xx, a request that got no answer as 0; the client
// passed in is left as it was.
func TestCountAnswers(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/away":
			http.Redirect(w, r, "https://elsewhere.example/", http.StatusTemporaryRedirect)
		case "/busy":
			w.WriteHeader(http.StatusTooManyRequests)
		}
	}))
	base := NewHTTPClient()
	var got statuses
	hc := CountAnswers(base, &got)
	for _, path := range []string{"/", "/busy", "/away"} {
		resp, err := hc.Get(srv.URL + path)
		if err == nil {
			resp.Body.Close()
		} else if _, ok := asRedirect(err); !ok {
			t.Fatalf("GET %s: %v", path, err)
		}
	}
	srv.Close()
	if _, err := hc.Get(srv.URL + "/"); err == nil {
		t.Fatal("a closed server answered")
	}
	want := []int{200, 429, 307, 0}
	if len(got) != len(want) {
		t.Fatalf("counted %v; want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("counted %v; want %v", got, want)
		}
	}
	if _, counting := base.Transport.(countingTransport); counting {
		t.Error("CountAnswers changed the client it was given")
	}
}

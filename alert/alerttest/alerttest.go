// Package alerttest has what tests of alerts need: HTTP and SMTP receivers
// started by the test (the SMTP one speaks STARTTLS with a certificate from
// a test CA), and the conformance suite every alert.StateStore runs.
package alerttest

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// Request is one request a Receiver got, and how it answered.
type Request struct {
	Header http.Header
	Body   []byte
	Status int
}

// Receiver is a webhook endpoint that records every POST. It answers OK
// (200 with "ok", as Slack does, by default) unless told to fail.
type Receiver struct {
	srv *httptest.Server

	mu       sync.Mutex
	requests []Request
	fail     int // the next fail requests get failWith
	failWith int
	down     bool
	okStatus int
}

// NewReceiver starts a receiver, stopped when the test ends.
func NewReceiver(tb testing.TB) *Receiver {
	tb.Helper()
	r := &Receiver{okStatus: http.StatusOK}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	tb.Cleanup(r.srv.Close)
	return r
}

// URL is the address to post to.
func (r *Receiver) URL() string { return r.srv.URL + "/hooks/T000/B000/s3cr3t-path?sig=s3cr3t-query" }

// AnswerWith sets the status of a successful answer (Teams workflows answer 202).
func (r *Receiver) AnswerWith(status int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.okStatus = status
}

// FailNext answers the next n requests with status.
func (r *Receiver) FailNext(n, status int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fail, r.failWith = n, status
}

// Down answers every request with 503 until Up.
func (r *Receiver) Down() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.down = true
}

// Up ends Down.
func (r *Receiver) Up() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.down = false
}

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	status := r.okStatus
	switch {
	case req.Method != http.MethodPost:
		status = http.StatusMethodNotAllowed
	case r.down:
		status = http.StatusServiceUnavailable
	case r.fail > 0:
		r.fail--
		status = r.failWith
	}
	r.requests = append(r.requests, Request{Header: req.Header.Clone(), Body: bytes.Clone(body), Status: status})
	r.mu.Unlock()
	w.WriteHeader(status)
	if status == http.StatusOK {
		_, _ = w.Write([]byte("ok"))
	} else if status >= 400 {
		_, _ = w.Write([]byte("receiver says no"))
	}
}

// Requests returns every request, failed or not, in order.
func (r *Receiver) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Request(nil), r.requests...)
}

// Delivered returns the requests answered 2xx: the messages the receiver took.
func (r *Receiver) Delivered() []Request {
	var out []Request
	for _, q := range r.Requests() {
		if q.Status >= 200 && q.Status < 300 {
			out = append(out, q)
		}
	}
	return out
}

package graph

import "net/http"

// AnswerCounter hears of every answer Entra and Graph give: its HTTP status,
// or 0 when none came (the connection failed or the request was stopped).
// The metrics of serve implement it; it is passed in, never global.
type AnswerCounter interface {
	Answer(status int)
}

// CountAnswers returns hc (NewHTTPClient() when nil) with every request it
// sends counted by c: token requests and Graph requests alike, each retry
// and each page on its own, redirects (which are refused) by their 3xx.
// The client passed in is not changed.
func CountAnswers(hc *http.Client, c AnswerCounter) *http.Client {
	if hc == nil {
		hc = NewHTTPClient()
	}
	out := *hc
	next := hc.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	out.Transport = countingTransport{next: next, c: c}
	return &out
}

type countingTransport struct {
	next http.RoundTripper
	c    AnswerCounter
}

func (t countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil || resp == nil {
		t.c.Answer(0)
		return resp, err
	}
	t.c.Answer(resp.StatusCode)
	return resp, nil
}

// CloseIdleConnections passes http.Client.CloseIdleConnections on.
func (t countingTransport) CloseIdleConnections() {
	if ci, ok := t.next.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

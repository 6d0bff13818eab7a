package server

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/query"
)

// answer is a fleet-wide API answer as it was sent, kept in the fleet
// model (query.Memo) until the store's version moves: encoded (and
// compressed) once, sent to every reader of the whole fleet.
type answer struct {
	status  int
	header  http.Header
	body    []byte
	gzipped bool
}

// notKept carries an answer that must not be kept (a server error).
type notKept struct{ a *answer }

func (notKept) Error() string { return "not kept" }

// recorder records an answer.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

// adopt writes buf's bytes, taking buf itself as the body when nothing was
// written yet (render's whole page: no copy). buf is the recorder's then.
func (r *recorder) adopt(buf *bytes.Buffer) {
	if r.body.Len() > 0 {
		_, _ = r.Write(buf.Bytes())
		return
	}
	if r.status == 0 {
		r.status = http.StatusOK
	}
	r.body = *bytes.NewBuffer(buf.Bytes())
}

// fleetAnswer serves next's answer from the fleet model to whoever sees
// the whole fleet; a client's restricted answers are built for it each
// time. The key is the request's URI, its Accept and whether it takes
// gzip, and the data's day and the clock's (what the answers read of
// time).
func (s *Server) fleetAnswer(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if p, ok := principalOf(r.Context()); ok && p.Restricted() {
			next(w, r)
			return
		}
		gz := acceptsGzip(r.Header.Get("Accept-Encoding"))
		key := strings.Join([]string{r.URL.RequestURI(), r.Header.Get("Accept"), fleetscore.DayOf(s.dataNow()).String(), fleetscore.DayOf(s.now()).String(), map[bool]string{true: "gzip"}[gz]}, "\x00")
		a, err := query.Memo(r.Context(), s.src, key, func(ctx context.Context, _ query.Source) (*answer, error) {
			rec := &recorder{header: http.Header{}}
			next(rec, r)
			a := &answer{status: rec.status, header: rec.header, body: rec.body.Bytes()}
			if a.status == 0 {
				a.status = http.StatusOK
			}
			if gz && a.status == http.StatusOK && a.header.Get("Content-Encoding") == "" {
				a.body, a.gzipped = gzipBytes(a.body), true
			}
			if a.status >= 500 {
				return nil, notKept{a}
			}
			return a, nil
		})
		var nk notKept
		if errors.As(err, &nk) {
			a, err = nk.a, nil
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		h := w.Header()
		for k, v := range a.header {
			h[k] = v
		}
		if a.gzipped {
			h.Set("Content-Encoding", "gzip")
			h.Del("Content-Length")
		}
		w.WriteHeader(a.status)
		if r.Method != http.MethodHead {
			w.Write(a.body)
		}
	}
}

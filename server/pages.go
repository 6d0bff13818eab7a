package server

import (
	"embed"
	"html/template"
	"io/fs"
	"net/http"

	"github.com/fleetscore/fleetscore/query"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// pages holds the parsed templates, one set per page.
type pages struct {
	overview *template.Template
}

func newPages() (*pages, error) {
	t, err := template.ParseFS(templateFS, "templates/overview.html")
	if err != nil {
		return nil, err
	}
	return &pages{overview: t}, nil
}

func staticHandler() http.Handler {
	sub, _ := fs.Sub(staticFS, "static")
	return http.StripPrefix("/static/", http.FileServerFS(sub))
}

func (s *Server) overviewPage(w http.ResponseWriter, r *http.Request) {
	o, err := query.TenantOverview(r.Context(), s.src, s.now())
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = s.pages.overview.Execute(w, o)
}

func (s *Server) tenantPage(w http.ResponseWriter, r *http.Request)      { http.NotFound(w, r) }
func (s *Server) actionsPage(w http.ResponseWriter, r *http.Request)     { http.NotFound(w, r) }
func (s *Server) collectionsPage(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }

func (s *Server) collectNow(w http.ResponseWriter, r *http.Request) {
	if s.runner == nil || !s.runner.CollectNow() {
		http.Error(w, "a collection is already running", http.StatusConflict)
		return
	}
	http.Redirect(w, r, "/collections", http.StatusSeeOther)
}

package web

import (
	"html/template"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
)

// TestRenderWholeOrNothing: a page is sent whole, with its length; one
// that cannot be rendered to its end is a 500 saying so, not a 200 cut
// short after what rendered.
func TestRenderWholeOrNothing(t *testing.T) {
	s := &Server{cfg: Config{Log: slog.New(slog.DiscardHandler)}}
	page := template.Must(template.New("layout.html").Parse(`<p>begun {{.Path}}</p>{{if .View}}{{index .View "x" 1}}{{end}}<p>ended</p>`))
	for _, c := range []struct {
		view any
		code int
		want string
	}{
		{nil, http.StatusOK, "<p>begun /p</p><p>ended</p>"},
		{map[string]int{"x": 1}, http.StatusInternalServerError, "the explorer could not render this page; its log says why\n"},
	} {
		rec := httptest.NewRecorder()
		s.render(rec, httptest.NewRequest(http.MethodGet, "/p", nil), page, http.StatusOK, map[string]any{"View": c.view})
		if rec.Code != c.code || rec.Body.String() != c.want {
			t.Errorf("view %v: %d %q; want %d %q", c.view, rec.Code, rec.Body.String(), c.code, c.want)
		}
		if c.code == http.StatusOK && rec.Header().Get("Content-Length") != strconv.Itoa(len(c.want)) {
			t.Errorf("Content-Length %q; want %d", rec.Header().Get("Content-Length"), len(c.want))
		}
	}
}

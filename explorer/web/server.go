// Package web serves the explorer: server-rendered HTML pages for auditors
// and the public, and the JSON API behind every page (documented in
// openapi.yaml, served at /api/v1/openapi.yaml). Each page is one loader
// that returns a view; the same view is rendered as HTML at PATH and as
// JSON at /api/v1PATH, so the two never drift apart.
package web

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/explorer/index"
	"github.com/votechain/votechain/internal/monitor"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

//go:embed openapi.yaml
var openAPI []byte

// Ledger is what the explorer asks the peer directly (*fabricclient.Ballot):
// the chaincode's own results, for the audit, and the channel height.
type Ledger interface {
	Results(ctx context.Context) (ballot.Results, error)
	Height(ctx context.Context) (uint64, error)
}

// Config configures the server.
type Config struct {
	Index  *index.Index
	Ledger Ledger
	Log    *slog.Logger
	// Gatherer serves /metrics (a *prometheus.Registry); nil: no /metrics.
	Gatherer prometheus.Gatherer
	// PageSize is the rows per page of every list (default 25).
	PageSize int
	// LedgerTimeout bounds each query to the peer, and the operator page's
	// queries to Prometheus (default 10 s).
	LedgerTimeout time.Duration
	// Monitoring, when set, feeds the operator page (/ops) from the
	// Prometheus at PrometheusURL; Panels are the charts it draws (the
	// Grafana dashboard's, see monitor.Panels).
	Monitoring    Monitoring
	PrometheusURL string
	Panels        []monitor.Panel
	// IntakeLog, when set, feeds the intake log page (/intake-log) with
	// the log monitor's last finding (run it with IntakeLog.Run).
	IntakeLog *IntakeLog
	// ReadyBehind is how far below the peer's height the index may be and
	// /readyz still answer 200 (default 300 blocks, the ExplorerBehind
	// alert's bound).
	ReadyBehind uint64
	// Genesis is the header hash of the channel's genesis block the audit
	// pins block 0 to (audit.Auditor.Genesis), nil if none: the audit page
	// says which.
	Genesis []byte
}

// Server is the explorer's HTTP handler.
type Server struct {
	cfg   Config
	mux   *http.ServeMux
	pages map[string]*template.Template
	api   []string // "METHOD /api/v1/..." of every API route, for the OpenAPI check
}

// errNotFound, errBadRequest and errUnsupportedMedia classify a loader's
// failure; other errors are internal (500).
var (
	errNotFound         = errors.New("not found")
	errBadRequest       = errors.New("bad request")
	errUnsupportedMedia = errors.New("unsupported media type")
)

// errorCodes are the codes of the JSON error answers, by status.
var errorCodes = map[int]string{
	http.StatusBadRequest:           "bad_request",
	http.StatusNotFound:             "not_found",
	http.StatusMethodNotAllowed:     "method_not_allowed",
	http.StatusUnsupportedMediaType: "unsupported_media_type",
	http.StatusInternalServerError:  "internal",
}

// loader loads the view of one page from a request.
type loader func(r *http.Request) (any, error)

// New builds the server.
func New(cfg Config) (*Server, error) {
	if cfg.PageSize <= 0 {
		cfg.PageSize = 25
	}
	if cfg.LedgerTimeout <= 0 {
		cfg.LedgerTimeout = 10 * time.Second
	}
	if cfg.ReadyBehind == 0 {
		cfg.ReadyBehind = 300
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux(), pages: map[string]*template.Template{}}
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("parse layout: %w", err)
	}
	routes := []struct {
		method, path, api, page string
		load                    loader
	}{
		{"GET", "/{$}", "/dashboard", "dashboard", s.dashboard},
		{"GET", "/blocks", "", "blocks", s.blocks},
		{"GET", "/blocks/{number}", "", "block", s.block},
		{"GET", "/txs/{id}", "", "tx", s.tx},
		{"GET", "/batches", "", "batches", s.batches},
		{"GET", "/batches/{state}/{seq}", "", "batch", s.batch},
		{"GET", "/verify", "", "verify", s.verify},
		{"POST", "/verify", "", "verify", s.verify},
		{"GET", "/audit", "", "audit", s.audit},
		{"GET", "/search", "", "search", s.search},
		{"GET", "/ops", "", "ops", s.ops},
		{"GET", "/intake-log", "", "intakelog", s.intakeLog},
	}
	page := func(name string) (*template.Template, error) {
		if t, ok := s.pages[name]; ok {
			return t, nil
		}
		t, err := template.Must(base.Clone()).ParseFS(templateFS, "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("parse page %s: %w", name, err)
		}
		s.pages[name] = t
		return t, nil
	}
	if _, err := page("error"); err != nil { // the page of requests no route takes
		return nil, err
	}
	for _, rt := range routes {
		t, err := page(rt.page)
		if err != nil {
			return nil, err
		}
		s.mux.Handle(rt.method+" "+rt.path, s.html(t, rt.load))
		api := rt.api
		if api == "" {
			api = rt.path
		}
		s.handleAPI(rt.method+" /api/v1"+api, s.json(rt.load))
	}
	s.handleAPI("GET /api/v1/votes/{id}/receipt", s.json(s.receipt))
	s.handleAPI("GET /api/v1/openapi.yaml", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		w.Write(openAPI)
	}))
	static, _ := fs.Sub(staticFS, "static")
	s.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.HandleFunc("GET /readyz", s.readyz)
	if cfg.Gatherer != nil {
		s.mux.Handle("GET /metrics", promhttp.HandlerFor(cfg.Gatherer, promhttp.HandlerOpts{}))
	}
	s.mux.HandleFunc(unroutedPattern, s.unrouted)
	return s, nil
}

func (s *Server) handleAPI(pattern string, h http.Handler) {
	s.mux.Handle(pattern, h)
	s.api = append(s.api, pattern)
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	s.mux.ServeHTTP(w, r)
}

// unroutedPattern is the route of the requests no other route takes.
const unroutedPattern = "/"

// unrouted answers a request no route takes as the routes answer their
// errors, in JSON under /api/v1/ and as an HTML page elsewhere: 405 with
// the Allow header if its path is routed for other methods, else 404.
func (s *Server) unrouted(w http.ResponseWriter, r *http.Request) {
	status, msg := http.StatusNotFound, fmt.Sprintf("nothing at %s", r.URL.Path)
	if allow := s.allowed(r); len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		status, msg = http.StatusMethodNotAllowed, fmt.Sprintf("%s is not allowed on %s (allowed: %s)", r.Method, r.URL.Path, strings.Join(allow, ", "))
	}
	if strings.HasPrefix(r.URL.Path, "/api/v1/") {
		writeJSON(w, status, errorBody(status, msg+"; the API is described at /api/v1/openapi.yaml"))
		return
	}
	s.render(w, r, s.pages["error"], status, map[string]any{"Error": msg, "Status": http.StatusText(status)})
}

// allowed returns the methods a route takes r's path with.
func (s *Server) allowed(r *http.Request) []string {
	var methods []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions} {
		probe := *r
		probe.Method = m
		if _, pattern := s.mux.Handler(&probe); pattern != unroutedPattern {
			methods = append(methods, m)
		}
	}
	return methods
}

// redirect is a view that sends the browser elsewhere (search results).
type redirect struct {
	URL string `json:"url"`
}

// html renders a loader's view with the page's template.
func (s *Server) html(t *template.Template, load loader) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		view, err := load(r)
		if to, ok := view.(redirect); ok && err == nil {
			http.Redirect(w, r, to.URL, http.StatusSeeOther)
			return
		}
		if clientClosed(w, r, err) {
			return
		}
		status := s.status(r, err)
		data := map[string]any{"View": view}
		if err != nil {
			data["Error"] = publicMessage(status, err)
		}
		s.render(w, r, t, status, data)
	})
}

// render writes page t with data (its View and Error; the layout's Path
// and Query are added) and status. The page is rendered whole before any
// of it is sent: a browser never shows part of one (a page that cannot be
// rendered, a bug, is a 500 and logged, not a 200 cut short).
func (s *Server) render(w http.ResponseWriter, r *http.Request, t *template.Template, status int, data map[string]any) {
	data["Path"], data["Query"] = r.URL.Path, r.URL.Query().Get("q")
	var page bytes.Buffer
	if err := t.ExecuteTemplate(&page, "layout.html", data); err != nil {
		s.cfg.Log.Error("render page", "path", r.URL.Path, "error", err)
		http.Error(w, "the explorer could not render this page; its log says why", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self'; img-src 'self' data:")
	w.Header().Set("Content-Length", strconv.Itoa(page.Len()))
	w.WriteHeader(status)
	w.Write(page.Bytes())
}

// json writes a loader's view as JSON, or {"error":{"code","message"}}.
func (s *Server) json(load loader) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		view, err := load(r)
		if clientClosed(w, r, err) {
			return
		}
		status := s.status(r, err)
		var body any = view
		if err != nil {
			body = errorBody(status, publicMessage(status, err))
		}
		writeJSON(w, status, body)
	})
}

// errorBody is the JSON error answer of status: {"error":{"code","message"}}.
func errorBody(status int, message string) any {
	return map[string]any{"error": map[string]string{"code": errorCodes[status], "message": message}}
}

// writeJSON writes body as indented JSON with status.
func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(body)
}

// status maps a loader error to an HTTP status, logging internal ones.
func (s *Server) status(r *http.Request, err error) int {
	switch {
	case err == nil:
		return http.StatusOK
	case errors.Is(err, errNotFound), errors.Is(err, index.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, errBadRequest):
		return http.StatusBadRequest
	case errors.Is(err, errUnsupportedMedia):
		return http.StatusUnsupportedMediaType
	}
	s.cfg.Log.Error("request failed", "path", r.URL.Path, "error", err)
	return http.StatusInternalServerError
}

// statusClientClosedRequest answers a request whose client went away
// (disconnected or gave up) before the answer: nginx's 499, "client closed
// request". Nobody reads it; it is for the access logs and metrics of
// proxies in front, and it is not logged as a failure.
const statusClientClosedRequest = 499

// clientClosed answers statusClientClosedRequest, and returns true, if err
// is the end of r's context (clientGone).
func clientClosed(w http.ResponseWriter, r *http.Request, err error) bool {
	if !clientGone(r.Context(), err) {
		return false
	}
	w.WriteHeader(statusClientClosedRequest)
	return true
}

// clientGone reports whether err is the end of ctx, a request's context
// or one derived from it, by cancellation: the client went away
// mid-request, so the reads and queries under its context gave up. A
// query to the peer reports that as gRPC's Canceled status, which does not
// wrap context.Canceled. A timeout of ctx is no such end: it is a fault.
func clientGone(ctx context.Context, err error) bool {
	return ctx.Err() != nil && (errors.Is(err, context.Canceled) || status.Code(err) == codes.Canceled)
}

// internalMessage is all a client learns of a fault on our side; the log
// has the details.
const internalMessage = "internal error; the explorer's log has the details"

// publicMessage is the message a client sees for a loader error: the
// explorer's own words for a refusal (4xx), a generic one for anything
// else (already logged by status), so no path, address or ledger error
// leaks.
func publicMessage(status int, err error) string {
	if status < http.StatusInternalServerError {
		return err.Error()
	}
	return internalMessage
}

// healthz answers 200 when the index can be read.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	if _, err := s.cfg.Index.Totals(r.Context()); err != nil {
		if clientClosed(w, r, err) {
			return
		}
		s.cfg.Log.Error("healthz: index unavailable", "error", err)
		http.Error(w, "index unavailable", http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ok")
}

// readiness is /readyz's body.
type readiness struct {
	Status       string `json:"status"` // ready or not_ready
	Reason       string `json:"reason,omitempty"`
	Indexed      uint64 `json:"indexed_height"`
	Ledger       string `json:"ledger"` // reachable or unreachable
	LedgerHeight uint64 `json:"ledger_height,omitempty"`
	Behind       uint64 `json:"blocks_behind"`
}

// readyTimeout bounds /readyz's query of the peer's height: a load
// balancer's check waits a few seconds at most.
const readyTimeout = 2 * time.Second

// readyz answers 200 when the explorer serves a current index: the index
// can be read and is at most ReadyBehind blocks below the peer's height
// (an explorer catching up serves an old ledger); 503 otherwise, saying
// why. A peer that cannot be reached leaves the index's age unknown: the
// answer is 200 with "ledger": "unreachable", since every explorer of an
// organisation shares its peer and a check that took them all out for it
// would leave auditors nothing (the ExplorerBehind alert watches the age).
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	rd := readiness{Status: "ready", Ledger: "reachable"}
	status := http.StatusOK
	t, err := s.cfg.Index.Totals(r.Context())
	if clientClosed(w, r, err) {
		return
	}
	if err != nil {
		s.cfg.Log.Error("readyz: index unavailable", "error", err)
		rd.Status, rd.Reason, status = "not_ready", "the index cannot be read", http.StatusServiceUnavailable
	}
	rd.Indexed = t.Blocks
	ctx, cancel := context.WithTimeout(r.Context(), min(readyTimeout, s.cfg.LedgerTimeout))
	defer cancel()
	var h uint64
	err = errors.New("no ledger connection")
	if s.cfg.Ledger != nil {
		h, err = s.cfg.Ledger.Height(ctx) // not logged: a probe every few seconds would flood the log
	}
	if clientClosed(w, r, err) {
		return
	}
	if err != nil {
		rd.Ledger = "unreachable"
	} else {
		rd.LedgerHeight, rd.Behind = h, h-min(h, t.Blocks)
		if status == http.StatusOK && rd.Behind > s.cfg.ReadyBehind {
			rd.Status, rd.Reason, status = "not_ready", fmt.Sprintf("the index is %d blocks behind the ledger (at most %d)", rd.Behind, s.cfg.ReadyBehind), http.StatusServiceUnavailable
		}
	}
	w.Header().Set("Content-Type", "application/json")
	if status != http.StatusOK {
		w.Header().Set("Retry-After", "5")
	}
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(rd)
}

package web

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/votechain/votechain/internal/monitor"
)

// Monitoring is what the operator page reads from Prometheus
// (*monitor.Client).
type Monitoring interface {
	QueryRange(ctx context.Context, expr string, start, end time.Time, step time.Duration) ([]monitor.Series, error)
	Alerts(ctx context.Context) ([]monitor.Alert, error)
}

// The operator page shows the last opsWindow (or ?window=, from 1 min to
// 24 h) in opsPoints steps, drawn into an opsWidth × opsHeight chart.
const (
	opsWindow = 15 * time.Minute
	opsPoints = 90
	opsWidth  = 600
	opsHeight = 150
)

type opsView struct {
	Configured bool        `json:"configured"` // false: the explorer runs without --prometheus
	Prometheus string      `json:"prometheus,omitempty"`
	Error      string      `json:"error,omitempty"` // Prometheus unreachable
	From       time.Time   `json:"from"`
	To         time.Time   `json:"to"`
	Alerts     []opsAlert  `json:"alerts"` // firing first, then pending
	Panels     []opsPanel  `json:"panels"`
	Firing     int         `json:"firing"`
	Step       float64     `json:"step_seconds"`
	Window     float64     `json:"window_seconds"`
	WindowText string      `json:"-"` // "15m0s"
	Size       [2]int      `json:"-"` // chart width and height
	Grid       []opsGridLn `json:"-"`
}

type opsAlert struct {
	Name     string    `json:"name"`
	State    string    `json:"state"` // firing or pending
	Severity string    `json:"severity"`
	Summary  string    `json:"summary"`
	Runbook  string    `json:"runbook"`
	Since    time.Time `json:"since"`
	Labels   string    `json:"labels"` // the alert's other labels, "state=CA"
}

type opsPanel struct {
	Title       string      `json:"title"`
	Description string      `json:"description"`
	Unit        string      `json:"unit"`
	Series      []opsSeries `json:"series"`
	Max         string      `json:"max"` // the chart's top, formatted
	Error       string      `json:"error,omitempty"`
}

type opsSeries struct {
	Name   string          `json:"name"`
	Last   string          `json:"last"` // latest value, formatted
	Points []monitor.Point `json:"points"`
	SVG    string          `json:"-"` // SVG path in the chart's coordinates, broken at gaps
	Color  int             `json:"-"` // stroke class s0..s7
}

// opsGridLn is a horizontal grid line of the charts.
type opsGridLn struct{ Y int }

// ops is the operator page: the dashboard's panels over the window, and
// the alerts Prometheus holds.
func (s *Server) ops(r *http.Request) (any, error) {
	window := opsWindow
	if q := r.URL.Query().Get("window"); q != "" {
		d, err := time.ParseDuration(q)
		if err != nil || d < time.Minute || d > 24*time.Hour {
			return nil, fmt.Errorf("%w: window %q: want a duration from 1m to 24h", errBadRequest, q)
		}
		window = d
	}
	step := max(window/opsPoints, time.Second).Truncate(time.Second)
	v := opsView{Configured: s.cfg.Monitoring != nil, Prometheus: s.cfg.PrometheusURL, Size: [2]int{opsWidth, opsHeight},
		Step: step.Seconds(), Window: window.Seconds(), WindowText: window.String()}
	for y := 0; y <= opsHeight; y += opsHeight / 4 {
		v.Grid = append(v.Grid, opsGridLn{y})
	}
	if !v.Configured {
		return v, nil
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.LedgerTimeout)
	defer cancel()
	v.To = time.Now().Truncate(step)
	v.From = v.To.Add(-window)
	alerts, err := s.cfg.Monitoring.Alerts(ctx)
	if clientGone(ctx, err) {
		return nil, err
	}
	if err != nil {
		s.cfg.Log.Warn("monitoring alerts", "error", err)
		v.Error = monitoringUnavailable
		return v, nil
	}
	v.Alerts = opsAlerts(alerts)
	for _, a := range v.Alerts {
		if a.State == "firing" {
			v.Firing++
		}
	}
	v.Panels = make([]opsPanel, len(s.cfg.Panels))
	var g errgroup.Group
	g.SetLimit(4)
	for i, p := range s.cfg.Panels {
		g.Go(func() (err error) {
			v.Panels[i], err = s.opsPanel(ctx, p, v.From, v.To, step)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return v, nil
}

// opsAlerts orders alerts firing first, then by severity and name.
func opsAlerts(alerts []monitor.Alert) []opsAlert {
	out := make([]opsAlert, 0, len(alerts))
	for _, a := range alerts {
		var other []string
		for k, val := range a.Labels {
			if k != "alertname" && k != "severity" {
				other = append(other, k+"="+val)
			}
		}
		slices.Sort(other)
		out = append(out, opsAlert{Name: a.Labels["alertname"], State: a.State, Severity: a.Labels["severity"],
			Summary: a.Annotations["summary"], Runbook: a.Annotations["runbook"], Since: a.ActiveAt, Labels: strings.Join(other, " ")})
	}
	slices.SortFunc(out, func(a, b opsAlert) int {
		return cmpAll(strings.Compare(a.State, b.State), strings.Compare(a.Severity, b.Severity),
			strings.Compare(a.Name, b.Name), strings.Compare(a.Labels, b.Labels))
	})
	return out
}

// cmpAll is the first non-zero comparison.
func cmpAll(c ...int) int {
	for _, x := range c {
		if x != 0 {
			return x
		}
	}
	return 0
}

// monitoringUnavailable is what the operations page shows when Prometheus
// fails; the log has the error.
const monitoringUnavailable = "monitoring data cannot be read right now"

// opsPanel queries a panel's expressions and lays its series out. A failed
// query is logged and shown as the panel's error, unless the client went
// away (clientGone): then it is returned, unlogged.
func (s *Server) opsPanel(ctx context.Context, p monitor.Panel, from, to time.Time, step time.Duration) (opsPanel, error) {
	out := opsPanel{Title: p.Title, Description: p.Description, Unit: p.Unit}
	top := 0.0
	for _, q := range p.Queries {
		series, err := s.cfg.Monitoring.QueryRange(ctx, q.Expr, from, to, step)
		if clientGone(ctx, err) {
			return out, err
		}
		if err != nil {
			s.cfg.Log.Warn("monitoring query", "expr", q.Expr, "error", err)
			out.Error = monitoringUnavailable
			return out, nil
		}
		for _, sr := range series {
			pts := finite(sr.Points)
			if len(pts) == 0 {
				continue
			}
			for _, pt := range pts {
				top = max(top, pt.V)
			}
			out.Series = append(out.Series, opsSeries{Name: q.Name(sr.Labels), Last: formatValue(pts[len(pts)-1].V, p.Unit), Points: pts})
		}
	}
	slices.SortStableFunc(out.Series, func(a, b opsSeries) int { return strings.Compare(a.Name, b.Name) })
	out.Max = formatValue(top, p.Unit)
	if top <= 0 {
		top = 1 // all zero: a flat line at the bottom
	}
	span := to.Sub(from).Seconds()
	for i := range out.Series {
		var b strings.Builder
		var prev time.Time
		for _, pt := range out.Series[i].Points {
			x := float64(opsWidth) * pt.T.Sub(from).Seconds() / span
			y := float64(opsHeight) * (1 - pt.V/top)
			if prev.IsZero() || pt.T.Sub(prev) > 3*step/2 { // a gap: no scrape, or no data
				fmt.Fprintf(&b, "M%.1f,%.1f h0 ", x, y) // h0: a lone point shows as a dot
			} else {
				fmt.Fprintf(&b, "L%.1f,%.1f ", x, y)
			}
			prev = pt.T
		}
		out.Series[i].SVG = strings.TrimSpace(b.String())
		out.Series[i].Color = i % 8
	}
	return out, nil
}

// finite drops NaN and infinite points (a quantile of no requests is NaN),
// which neither JSON nor a chart can hold.
func finite(pts []monitor.Point) []monitor.Point {
	out := pts[:0:0]
	for _, p := range pts {
		if !math.IsNaN(p.V) && !math.IsInf(p.V, 0) {
			out = append(out, p)
		}
	}
	return out
}

// formatValue renders v in a Grafana unit: "s" (seconds), "percentunit"
// (a fraction), "bytes", or a plain number with k/M suffixes.
func formatValue(v float64, unit string) string {
	switch unit {
	case "s":
		switch {
		case v == 0:
			return "0 s"
		case v < 1:
			return strconv.FormatFloat(v*1000, 'f', 1, 64) + " ms"
		default:
			return strconv.FormatFloat(v, 'f', 2, 64) + " s"
		}
	case "percentunit":
		return strconv.FormatFloat(v*100, 'f', 1, 64) + "%"
	case "bytes":
		for i, u := range []string{"B", "KiB", "MiB", "GiB"} {
			if v < 1024 || i == 3 {
				return strconv.FormatFloat(v, 'f', 1, 64) + " " + u
			}
			v /= 1024
		}
	}
	switch a := math.Abs(v); {
	case a >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', 2, 64) + "M"
	case a >= 1e4:
		return strconv.FormatFloat(v/1e3, 'f', 1, 64) + "k"
	case a == math.Trunc(a):
		return strconv.FormatFloat(v, 'f', 0, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}

package monitor

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Client reads Prometheus's HTTP API (/api/v1).
type Client struct {
	URL  string // base URL, http://127.0.0.1:27395
	HTTP *http.Client
}

// NewClient is a client of the Prometheus at base with a 10 s timeout.
func NewClient(base string) *Client {
	return &Client{URL: base, HTTP: &http.Client{Timeout: 10 * time.Second}}
}

// Point is one value of a series.
type Point struct {
	T time.Time `json:"t"`
	V float64   `json:"v"`
}

// Series is one labelled series: one point for an instant query, many for
// a range query.
type Series struct {
	Labels map[string]string
	Points []Point
}

// Alert is an alert Prometheus holds: pending (waiting out its `for:`) or
// firing.
type Alert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	State       string            `json:"state"`
	ActiveAt    time.Time         `json:"activeAt"`
	Value       string            `json:"value"`
}

// TargetHealth is one scrape target's last scrape.
type TargetHealth struct {
	Labels    map[string]string `json:"labels"`
	ScrapeURL string            `json:"scrapeUrl"`
	Health    string            `json:"health"` // "up", "down", "unknown"
	LastError string            `json:"lastError"`
}

// Query evaluates expr now.
func (c *Client) Query(ctx context.Context, expr string) ([]Series, error) {
	return c.series(ctx, "query", url.Values{"query": {expr}})
}

// QueryRange evaluates expr from start to end every step.
func (c *Client) QueryRange(ctx context.Context, expr string, start, end time.Time, step time.Duration) ([]Series, error) {
	return c.series(ctx, "query_range", url.Values{"query": {expr},
		"start": {unix(start)}, "end": {unix(end)}, "step": {strconv.FormatFloat(step.Seconds(), 'f', -1, 64)}})
}

// Alerts lists the pending and firing alerts.
func (c *Client) Alerts(ctx context.Context) ([]Alert, error) {
	var data struct {
		Alerts []Alert `json:"alerts"`
	}
	return data.Alerts, c.get(ctx, "alerts", nil, &data)
}

// Targets lists the active scrape targets with their health.
func (c *Client) Targets(ctx context.Context) ([]TargetHealth, error) {
	var data struct {
		Active []TargetHealth `json:"activeTargets"`
	}
	return data.Active, c.get(ctx, "targets", url.Values{"state": {"active"}}, &data)
}

// series runs an instant or range query; both answer a vector or matrix.
func (c *Client) series(ctx context.Context, endpoint string, q url.Values) ([]Series, error) {
	var data struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Metric map[string]string `json:"metric"`
			Value  *sample           `json:"value"`
			Values []sample          `json:"values"`
		} `json:"result"`
	}
	if err := c.get(ctx, endpoint, q, &data); err != nil {
		return nil, err
	}
	out := make([]Series, 0, len(data.Result))
	for _, r := range data.Result {
		s := Series{Labels: r.Metric}
		if r.Value != nil {
			s.Points = []Point{Point(*r.Value)}
		}
		for _, v := range r.Values {
			s.Points = append(s.Points, Point(v))
		}
		out = append(out, s)
	}
	return out, nil
}

// get calls /api/v1/endpoint and decodes the "data" of a success answer.
func (c *Client) get(ctx context.Context, endpoint string, q url.Values, data any) error {
	u := c.URL + "/api/v1/" + endpoint
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("prometheus: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("prometheus %s: %w", endpoint, err)
	}
	var env struct {
		Status string          `json:"status"`
		Data   json.RawMessage `json:"data"`
		Error  string          `json:"error"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return fmt.Errorf("prometheus %s: HTTP %d, not JSON: %.200s", endpoint, resp.StatusCode, body)
	}
	if env.Status != "success" {
		return fmt.Errorf("prometheus %s: %s", endpoint, env.Error)
	}
	return json.Unmarshal(env.Data, data)
}

// sample is the API's [unix seconds, "value"] pair.
type sample Point

func (s *sample) UnmarshalJSON(b []byte) error {
	var pair [2]any
	if err := json.Unmarshal(b, &pair); err != nil {
		return err
	}
	t, ok1 := pair[0].(float64)
	v, ok2 := pair[1].(string)
	if !ok1 || !ok2 {
		return fmt.Errorf("prometheus: sample %s is not [time, \"value\"]", b)
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return fmt.Errorf("prometheus: sample value %q: %w", v, err)
	}
	sec, frac := math.Modf(t)
	s.T, s.V = time.Unix(int64(sec), int64(frac*1e9)), f
	return nil
}

func unix(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64)
}

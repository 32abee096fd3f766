// Results reads: the gateway's GET /api/v1/results against a bare net/http
// handler serving the same bytes, under the same load tool in the same run,
// so the ratio is the cost of the gateway's read path.

package loadgen

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// ReadSnapshot is a captured answer: the body and the headers worth replaying.
type ReadSnapshot struct {
	Body        []byte
	ContentType string
	ETag        string
}

// CaptureRead GETs url and keeps its answer.
func CaptureRead(ctx context.Context, url string) (ReadSnapshot, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return ReadSnapshot{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return ReadSnapshot{}, fmt.Errorf("loadgen: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return ReadSnapshot{}, fmt.Errorf("loadgen: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return ReadSnapshot{}, fmt.Errorf("loadgen: GET %s: %s", url, resp.Status)
	}
	return ReadSnapshot{Body: body, ContentType: resp.Header.Get("Content-Type"), ETag: resp.Header.Get("ETag")}, nil
}

// Handler is the bare handler: the snapshot's bytes and headers, nothing else.
func BareHandler(s ReadSnapshot) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h.Set("Content-Type", s.ContentType)
		if s.ETag != "" {
			h.Set("ETag", s.ETag)
		}
		w.Write(s.Body)
	})
}

// Serve serves the bare handler on ln until ctx ends.
func ServeBare(ctx context.Context, ln net.Listener, s ReadSnapshot) error {
	srv := &http.Server{Handler: BareHandler(s), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}

// ReadResult is one closed-loop read run.
type ReadResult struct {
	URL       string  `json:"url"`
	Workers   int     `json:"workers"`
	DurationS float64 `json:"duration_s"`
	OK        int     `json:"ok"`
	Failed    int     `json:"failed"`
	QPS       float64 `json:"qps"`
	P99ms     float64 `json:"p99_ms"`
}

// HammerReads GETs url as fast as workers concurrent clients can for d (vegeta
// at an unlimited rate with a fixed worker pool) and counts 200 answers.
func HammerReads(ctx context.Context, url string, workers int, d time.Duration) ReadResult {
	atk := vegeta.NewAttacker(vegeta.Workers(uint64(workers)), vegeta.MaxWorkers(uint64(workers)),
		vegeta.Connections(workers), vegeta.KeepAlive(true), vegeta.HTTP2(false), vegeta.MaxBody(0))
	stop := context.AfterFunc(ctx, func() { atk.Stop() })
	defer stop()
	tr := vegeta.NewStaticTargeter(vegeta.Target{Method: http.MethodGet, URL: url})
	var m vegeta.Metrics
	res := ReadResult{URL: url, Workers: workers, DurationS: d.Seconds()}
	for r := range atk.Attack(tr, vegeta.Rate{Freq: 0}, d, "read") {
		if r.Code == http.StatusOK {
			res.OK++
			m.Add(r)
		} else {
			res.Failed++
		}
	}
	m.Close()
	res.QPS = float64(res.OK) / d.Seconds()
	res.P99ms = float64(m.Latencies.P99) / 1e6
	return res
}

// Results reads: the gateway's GET /api/v1/results against a bare net/http
// handler serving the same bytes, under the same client (client.go) in the same run,
// so the ratio is the cost of the gateway's read path.

package loadgen

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/votechain/votechain/bench/measure"
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

// HammerReads GETs url as fast as workers concurrent clients can for d
// (closed loop, each worker on its own persistent connection) and counts
// 200 answers.
func HammerReads(ctx context.Context, url string, workers int, d time.Duration) ReadResult {
	res := ReadResult{URL: url, Workers: workers, DurationS: d.Seconds()}
	tgt, err := newTarget(http.MethodGet, url, "")
	if err != nil {
		res.Failed = 1
		return res
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newConn(tgt, 30*time.Second, 0)
			defer c.close()
			var ok, failed int
			var mine []time.Duration
			for ctx.Err() == nil {
				sent := time.Now()
				code, err := c.do(nil, false)
				if err == nil && code == http.StatusOK {
					ok++
					mine = append(mine, time.Since(sent))
				} else {
					failed++
				}
			}
			mu.Lock()
			res.OK, res.Failed = res.OK+ok, res.Failed+failed
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.QPS = float64(res.OK) / d.Seconds()
	res.P99ms = measure.Summarize(lat).P99ms
	return res
}

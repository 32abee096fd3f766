package measure

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// CounterSum reads a Prometheus text endpoint (a process's /metrics) and
// adds up every series of the metric name, whatever its labels. A metric
// the endpoint does not expose sums to 0 with found false.
func CounterSum(ctx context.Context, url, name string) (sum float64, found bool, err error) {
	return CounterSumWith(ctx, url, name, "")
}

// CounterSumWith is CounterSum over the series whose labels include label,
// written as in the exposition (`status="accepted"`); "" matches all.
func CounterSumWith(ctx context.Context, url, name, label string) (sum float64, found bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, false, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, false, fmt.Errorf("measure: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, false, fmt.Errorf("measure: GET %s: %s", url, resp.Status)
	}
	return sumMetric(resp.Body, name, label)
}

func sumMetric(r io.Reader, name, label string) (sum float64, found bool, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, name)
		if !ok || (rest != "" && rest[0] != '{' && rest[0] != ' ') {
			continue // a comment, another metric, or one whose name only starts with name
		}
		if i := strings.LastIndexByte(rest, '}'); i >= 0 {
			if label != "" && !hasLabel(rest[:i], label) {
				continue
			}
			rest = rest[i+1:]
		} else if label != "" {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return 0, false, fmt.Errorf("measure: metric line %q: %w", line, err)
		}
		sum, found = sum+v, true
	}
	return sum, found, sc.Err()
}

// hasLabel reports whether the label set `{a="x",b="y"` holds label.
func hasLabel(set, label string) bool {
	for _, l := range strings.Split(strings.TrimPrefix(set, "{"), ",") {
		if strings.TrimSpace(l) == label {
			return true
		}
	}
	return false
}

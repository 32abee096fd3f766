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

// Sample is one sample line of a Prometheus text exposition: a series (the
// metric name and its labels) and its value.
type Sample struct {
	Name   string
	Labels map[string]string // nil when the series has none
	Value  float64
}

// ScrapeMetrics reads a Prometheus text endpoint (a process's /metrics)
// and parses it (ParseMetrics).
func ScrapeMetrics(ctx context.Context, url string) ([]Sample, error) {
	var out []Sample
	err := scrape(ctx, url, func(r io.Reader) (err error) {
		out, err = ParseMetrics(r)
		return err
	})
	return out, err
}

// ParseMetrics reads every sample of a Prometheus text exposition (format
// 0.0.4, what client_golang's promhttp serves), in order; comments (# HELP,
// # TYPE) and blank lines are skipped, a timestamp after the value is
// ignored. A line it cannot read is an error.
func ParseMetrics(r io.Reader) ([]Sample, error) {
	var out []Sample
	err := eachSampleLine(r, func(line string) error {
		s, err := parseSample(line)
		if err == nil {
			out = append(out, s)
		}
		return err
	})
	return out, err
}

// CounterSum reads a Prometheus text endpoint (a process's /metrics) and
// adds up every series of the metric name, whatever its labels. A metric
// the endpoint does not expose sums to 0 with found false.
func CounterSum(ctx context.Context, url, name string) (sum float64, found bool, err error) {
	return CounterSumWith(ctx, url, name, "")
}

// CounterSumWith is CounterSum over the series whose labels include label,
// written as in the exposition (`status="accepted"`); "" matches all.
func CounterSumWith(ctx context.Context, url, name, label string) (sum float64, found bool, err error) {
	err = scrape(ctx, url, func(r io.Reader) (err error) {
		sum, found, err = sumMetric(r, name, label)
		return err
	})
	return sum, found, err
}

// scrape GETs url and hands read its body.
func scrape(ctx context.Context, url string, read func(io.Reader) error) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("measure: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("measure: GET %s: %s", url, resp.Status)
	}
	return read(resp.Body)
}

// sumMetric adds up the series of name whose labels include label ("":
// all); only the lines of name are parsed.
func sumMetric(r io.Reader, name, label string) (sum float64, found bool, err error) {
	var want map[string]string
	if label != "" {
		if want, err = parseLabels("{" + label + "}"); err != nil {
			return 0, false, err
		}
	}
	err = eachSampleLine(r, func(line string) error {
		rest, ok := strings.CutPrefix(line, name)
		if !ok || (rest != "" && rest[0] != '{' && rest[0] != ' ') {
			return nil // another metric, or one whose name only starts with name
		}
		s, err := parseSample(line)
		if err != nil {
			return err
		}
		for k, v := range want {
			if got, ok := s.Labels[k]; !ok || got != v {
				return nil
			}
		}
		sum, found = sum+s.Value, true
		return nil
	})
	return sum, found, err
}

// eachSampleLine calls f with every line of r that is not a comment or
// blank, until f fails.
func eachSampleLine(r io.Reader, f func(line string) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		if err := f(line); err != nil {
			return err
		}
	}
	return sc.Err()
}

// parseSample reads `name{label="value",...} value [timestamp]`.
func parseSample(line string) (Sample, error) {
	var s Sample
	end := strings.IndexAny(line, "{ \t")
	if end <= 0 {
		return s, fmt.Errorf("measure: metric line %q: no value", line)
	}
	s.Name, line = line[:end], line[end:]
	if line[0] == '{' {
		n, err := labelsEnd(line)
		if err != nil {
			return s, fmt.Errorf("measure: metric line %q: %w", s.Name+line, err)
		}
		if s.Labels, err = parseLabels(line[:n]); err != nil {
			return s, fmt.Errorf("measure: metric line %q: %w", s.Name+line, err)
		}
		line = line[n:]
	}
	f := strings.Fields(line)
	if len(f) == 0 || len(f) > 2 {
		return s, fmt.Errorf("measure: metric line %q: want a value and at most a timestamp", s.Name+line)
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return s, fmt.Errorf("measure: metric line %q: %w", s.Name+line, err)
	}
	s.Value = v
	return s, nil
}

// labelsEnd is the length of the label set `{...}` that s begins with,
// braces included, skipping quoted values (which may hold braces, commas
// and escaped quotes).
func labelsEnd(s string) (int, error) {
	quoted := false
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && c == '\\':
			i++ // the escaped character
		case c == '"':
			quoted = !quoted
		case !quoted && c == '}':
			return i + 1, nil
		}
	}
	return 0, fmt.Errorf("unterminated label set")
}

// parseLabels reads a label set `{a="x",b="y\"z"}` (a trailing comma
// allowed), unescaping \\, \" and \n in the values.
func parseLabels(set string) (map[string]string, error) {
	s := strings.TrimSuffix(strings.TrimPrefix(set, "{"), "}")
	labels := map[string]string{}
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(s), ",")) {
		name, rest, ok := strings.Cut(s, "=")
		rest = strings.TrimSpace(rest)
		if !ok || rest == "" || rest[0] != '"' {
			return nil, fmt.Errorf("label %q: want name=\"value\"", s)
		}
		var v strings.Builder
		i := 1
		for ; i < len(rest) && rest[i] != '"'; i++ {
			if rest[i] == '\\' && i+1 < len(rest) {
				i++
				if rest[i] == 'n' {
					v.WriteByte('\n')
					continue
				}
			}
			v.WriteByte(rest[i])
		}
		if i >= len(rest) {
			return nil, fmt.Errorf("label %q: unterminated value", s)
		}
		labels[strings.TrimSpace(name)] = v.String()
		s = rest[i+1:]
	}
	if len(labels) == 0 {
		return nil, nil
	}
	return labels, nil
}

package suite

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/votechain/votechain/bench/report"
)

// TestYardstickCutShortIsNotKept: a run interrupted while it measures the
// yardstick keeps no figure of it (its all-cores half would read 0 ops/s).
func TestYardstickCutShortIsNotKept(t *testing.T) {
	var out bytes.Buffer
	r := &run{cfg: Config{Progress: &out}, rep: &report.Report{}}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if y := r.yardstick(ctx, "before the run"); y != nil {
		t.Fatalf("yardstick cut short after 100 ms kept: %+v", *y)
	}
	if !strings.Contains(out.String(), "cut short") {
		t.Errorf("said %q; want it to say the yardstick was cut short", out.String())
	}
}

package report

import (
	"fmt"
	"strings"

	"github.com/votechain/votechain/bench/measure"
	"github.com/votechain/votechain/internal/redisserver"
)

// fsyncEvent is the latency monitor's event for the fsync Redis makes
// before it answers (appendfsync always); aofWrite the write(2) of the
// AOF, in any of its variants (alone, with a rewrite child running, ...).
const (
	fsyncEvent = "aof-fsync-always"
	aofWrite   = "aof-write"
)

// redisPersistenceMarkdown renders what Redis's persistence did in each
// intake phase: a row per phase, blank cells where no reading of Redis
// covered it.
func redisPersistenceMarkdown(b *strings.Builder, windows []measure.RedisWindow) {
	if len(windows) == 0 {
		return
	}
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	p("**Redis persistence per intake phase** (AOF rewrites from INFO persistence, polled every second; spikes from Redis's latency monitor, threshold %d ms, which keeps each event's worst per second):\n\n", redisserver.LatencyThreshold.Milliseconds())
	p("| phase | AOF rewrite running | begun / ended | fork | copied on write | rewrite children's CPU | fsync spikes: seconds, worst | AOF write worst | other spikes |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, w := range windows {
		if !w.Known {
			p("| %s | | | | | | | | |\n", w.Phase)
			continue
		}
		running, counts, fork, cow := "—", "", "", ""
		if w.Rewrites > 0 {
			running, counts = fmt.Sprintf("%.1f s", w.RewriteS), fmt.Sprintf("%d / %d", w.Started, w.Ended)
		}
		if w.Started > 0 {
			fork = fmt.Sprintf("%.0f ms", w.ForkMS)
		}
		if w.Ended > 0 {
			cow = fmt.Sprintf("%.0f MB", w.CowMB)
		}
		child := ""
		if w.ChildCPUS > 0 {
			child = fmt.Sprintf("%.1f s", w.ChildCPUS)
		}
		fs := w.Event(fsyncEvent)
		fsync := fmt.Sprintf("%d s", fs.Seconds)
		if fs.Seconds > 0 {
			fsync += fmt.Sprintf(", %d ms", fs.MaxMS)
		}
		var write int64
		var other []string
		for _, e := range w.Events {
			switch {
			case e.Event == fsyncEvent:
			case strings.HasPrefix(e.Event, aofWrite):
				write = max(write, e.MaxMS)
			default:
				other = append(other, fmt.Sprintf("%s %d ms", e.Event, e.MaxMS))
			}
		}
		writeCell := ""
		if write > 0 {
			writeCell = fmt.Sprintf("%d ms", write)
		}
		p("| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", w.Phase, running, counts, fork, cow, child, fsync, writeCell, strings.Join(other, ", "))
	}
	p("\nA rewrite forks Redis (the event loop stops for the fork), and its child writes the whole dataset to a new base file while Redis goes on fsyncing every write; the child's CPU counts as Redis's in the phase Redis reaps it (so in the cost per vote above). *Other spikes* are the monitor's other events: `command` is a command (an intake script call) that ran over the threshold.\n\n")
}

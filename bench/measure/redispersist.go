// Redis's persistence while the bench runs: its AOF rewrites (INFO
// persistence, polled) and the latency monitor's spikes (aof-fsync-always,
// aof-write, fork, ...), summed up per phase window.

package measure

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisPersistence is one reading of Redis's INFO persistence, stats and
// cpu sections: the facts about its AOF and its forks. Fields INFO does not
// report stay zero.
type RedisPersistence struct {
	RewriteInProgress bool  `json:"aof_rewrite_in_progress"`
	RewriteScheduled  bool  `json:"aof_rewrite_scheduled"`     // to start once a running child (an RDB save) ends
	Rewrites          int64 `json:"aof_rewrites"`              // rewrites started since Redis started (counted at the fork)
	LastRewriteS      int64 `json:"aof_last_rewrite_time_sec"` // -1: none yet
	LastCowBytes      int64 `json:"aof_last_cow_size"`         // memory the last rewrite's child copied on write
	CurrentBytes      int64 `json:"aof_current_size"`
	BaseBytes         int64 `json:"aof_base_size"`
	ForkUS            int64 `json:"latest_fork_usec"` // the last fork's pause of the event loop
	// MainCPU is the server's own CPU (all its threads); ChildrenCPU its
	// waited-for children's (the rewrite children's, once each has ended).
	MainCPU     time.Duration `json:"used_cpu"`
	ChildrenCPU time.Duration `json:"used_cpu_children"`
}

// ParseRedisPersistence reads the fields of RedisPersistence from the text
// of INFO persistence, stats and cpu (any of them; lines of other sections
// are ignored).
func ParseRedisPersistence(info string) RedisPersistence {
	var p RedisPersistence
	var cpu, children float64
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		f, _ := strconv.ParseFloat(v, 64)
		switch k {
		case "aof_rewrite_in_progress":
			p.RewriteInProgress = n == 1
		case "aof_rewrite_scheduled":
			p.RewriteScheduled = n == 1
		case "aof_rewrites":
			p.Rewrites = n
		case "aof_last_rewrite_time_sec":
			p.LastRewriteS = n
		case "aof_last_cow_size":
			p.LastCowBytes = n
		case "aof_current_size":
			p.CurrentBytes = n
		case "aof_base_size":
			p.BaseBytes = n
		case "latest_fork_usec":
			p.ForkUS = n
		case "used_cpu_sys", "used_cpu_user":
			cpu += f
		case "used_cpu_sys_children", "used_cpu_user_children":
			children += f
		}
	}
	p.MainCPU, p.ChildrenCPU = seconds(cpu), seconds(children)
	return p
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// RedisReader is what the persistence readings need of a Redis client
// (*redis.Client has it).
type RedisReader interface {
	Info(ctx context.Context, section ...string) *redis.StringCmd
	Do(ctx context.Context, args ...any) *redis.Cmd
}

// ReadRedisPersistence reads INFO persistence, stats and cpu.
func ReadRedisPersistence(ctx context.Context, rdb RedisReader) (RedisPersistence, error) {
	info, err := rdb.Info(ctx, "persistence", "stats", "cpu").Result()
	if err != nil {
		return RedisPersistence{}, fmt.Errorf("measure: INFO persistence: %w", err)
	}
	return ParseRedisPersistence(info), nil
}

// LatencySample is one second's worst latency of an event of Redis's
// latency monitor (LATENCY HISTORY).
type LatencySample struct {
	At time.Time `json:"at"` // whole seconds
	MS int64     `json:"ms"`
}

// ParseLatencyLatest returns the event names of a LATENCY LATEST reply
// (an array of [event, time, latest ms, max ms]).
func ParseLatencyLatest(reply any) ([]string, error) {
	rows, ok := reply.([]any)
	if !ok {
		return nil, fmt.Errorf("measure: LATENCY LATEST: reply %T", reply)
	}
	var names []string
	for _, row := range rows {
		f, ok := row.([]any)
		if !ok || len(f) < 1 {
			return nil, fmt.Errorf("measure: LATENCY LATEST: row %v", row)
		}
		name, ok := f[0].(string)
		if !ok {
			return nil, fmt.Errorf("measure: LATENCY LATEST: event %v", f[0])
		}
		names = append(names, name)
	}
	return names, nil
}

// ParseLatencyHistory returns the samples of a LATENCY HISTORY reply (an
// array of [unix time, ms]).
func ParseLatencyHistory(reply any) ([]LatencySample, error) {
	rows, ok := reply.([]any)
	if !ok {
		return nil, fmt.Errorf("measure: LATENCY HISTORY: reply %T", reply)
	}
	out := make([]LatencySample, 0, len(rows))
	for _, row := range rows {
		f, ok := row.([]any)
		if !ok || len(f) != 2 {
			return nil, fmt.Errorf("measure: LATENCY HISTORY: row %v", row)
		}
		at, ok1 := f[0].(int64)
		ms, ok2 := f[1].(int64)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("measure: LATENCY HISTORY: row %v", row)
		}
		out = append(out, LatencySample{At: time.Unix(at, 0), MS: ms})
	}
	return out, nil
}

// ReadRedisLatency reads every event's history from Redis's latency
// monitor (LATENCY LATEST names the events; each keeps its last 160
// seconds with a spike).
func ReadRedisLatency(ctx context.Context, rdb RedisReader) (map[string][]LatencySample, error) {
	latest, err := rdb.Do(ctx, "LATENCY", "LATEST").Result()
	if err != nil {
		return nil, fmt.Errorf("measure: LATENCY LATEST: %w", err)
	}
	names, err := ParseLatencyLatest(latest)
	if err != nil {
		return nil, err
	}
	out := map[string][]LatencySample{}
	for _, name := range names {
		h, err := rdb.Do(ctx, "LATENCY", "HISTORY", name).Result()
		if err != nil {
			return nil, fmt.Errorf("measure: LATENCY HISTORY %s: %w", name, err)
		}
		if out[name], err = ParseLatencyHistory(h); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// AOFRewrite is one AOF rewrite as the polls saw it: Start and End are the
// polls that first saw it running and first saw it over (a rewrite that
// began and ended between two polls has both at the later one).
type AOFRewrite struct {
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"` // zero: still running at the last poll
	ForkMS   float64   `json:"fork_ms"`
	Seconds  int64     `json:"seconds"`   // aof_last_rewrite_time_sec once it ended
	CowBytes int64     `json:"cow_bytes"` // aof_last_cow_size once it ended
}

// RedisWatch keeps what the polls of Redis saw: the AOF rewrites, the
// latency monitor's samples and the CPU readings. Its methods are safe for
// concurrent use.
type RedisWatch struct {
	mu       sync.Mutex
	rewrites []AOFRewrite
	open     int // index of the running rewrite in rewrites; -1: none
	last     RedisPersistence
	seen     bool
	cpu      []cpuReading
	latency  map[string]map[int64]int64 // event -> unix second -> ms
}

type cpuReading struct {
	at             time.Time
	main, children time.Duration
}

// NewRedisWatch returns an empty watch; Observe and AddLatency feed it.
func NewRedisWatch() *RedisWatch {
	return &RedisWatch{open: -1, latency: map[string]map[int64]int64{}}
}

// Observe books a reading of INFO taken at at: rewrites that began and
// ended since the previous one, and the CPU.
func (w *RedisWatch) Observe(at time.Time, p RedisPersistence) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.cpu = append(w.cpu, cpuReading{at, p.MainCPU, p.ChildrenCPU})
	started := int64(0)
	if w.seen {
		started = max(p.Rewrites-w.last.Rewrites, 0)
	}
	w.seen, w.last = true, p
	over := func(r *AOFRewrite) { r.End, r.Seconds, r.CowBytes = at, p.LastRewriteS, p.LastCowBytes }
	if w.open >= 0 && (!p.RewriteInProgress || started > 0) {
		over(&w.rewrites[w.open])
		w.open = -1
	}
	// Rewrites begun and ended between the polls (the newest of those
	// begun may still run).
	whole := started
	if p.RewriteInProgress && started > 0 {
		whole--
	}
	for range whole {
		r := AOFRewrite{Start: at}
		over(&r)
		w.rewrites = append(w.rewrites, r)
	}
	if p.RewriteInProgress && w.open < 0 {
		w.rewrites = append(w.rewrites, AOFRewrite{Start: at, ForkMS: float64(p.ForkUS) / 1000})
		w.open = len(w.rewrites) - 1
	}
}

// AddLatency books an event's samples (a sample seen again is kept once).
func (w *RedisWatch) AddLatency(event string, samples []LatencySample) {
	w.mu.Lock()
	defer w.mu.Unlock()
	m := w.latency[event]
	if m == nil {
		m = map[int64]int64{}
		w.latency[event] = m
	}
	for _, s := range samples {
		m[s.At.Unix()] = max(m[s.At.Unix()], s.MS)
	}
}

// Rewrites are the rewrites seen so far, oldest first.
func (w *RedisWatch) Rewrites() []AOFRewrite {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.rewrites)
}

// RedisWindow is what Redis's persistence did during one phase.
type RedisWindow struct {
	Phase string `json:"phase"`
	// Rewrites ran during the window, for RewriteS of its seconds;
	// Started and Ended of them began and ended in it.
	Rewrites int     `json:"aof_rewrites"`
	Started  int     `json:"aof_rewrites_started"`
	Ended    int     `json:"aof_rewrites_ended"`
	RewriteS float64 `json:"aof_rewrite_s"`
	ForkMS   float64 `json:"fork_ms"` // the longest fork of those started
	CowMB    float64 `json:"cow_mb"`  // the most copied on write by those ended
	// ChildCPUS is the CPU of the rewrite children Redis reaped in the
	// window (/proc books it to Redis then); MainCPUS Redis's own.
	ChildCPUS float64 `json:"child_cpu_s"`
	MainCPUS  float64 `json:"main_cpu_s"`
	// Events are the latency monitor's events spiking in the window: the
	// seconds with a spike over the threshold and the worst.
	Events []LatencyEvent `json:"latency_events,omitempty"`
	// Known is false when no reading of Redis covered the window (the
	// polls failed): the rest is then blank, not zero.
	Known bool `json:"known"`
}

// LatencyEvent is one event's spikes in a window.
type LatencyEvent struct {
	Event   string `json:"event"`
	Seconds int    `json:"seconds"` // seconds with a spike
	MaxMS   int64  `json:"max_ms"`
}

// Event returns the window's spikes of event (zero if none).
func (r RedisWindow) Event(name string) LatencyEvent {
	for _, e := range r.Events {
		if e.Event == name {
			return e
		}
	}
	return LatencyEvent{Event: name}
}

// Window sums up what the watch saw from from to to.
func (w *RedisWatch) Window(phase string, from, to time.Time) RedisWindow {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := RedisWindow{Phase: phase}
	// The readings bracketing the window: the last at or before from, the
	// first at or after to.
	a, b := -1, -1
	for i, c := range w.cpu {
		if !c.at.After(from) {
			a = i
		}
		if b < 0 && !c.at.Before(to) {
			b = i
		}
	}
	if a < 0 || b < 0 {
		return out
	}
	out.Known = true
	out.MainCPUS = (w.cpu[b].main - w.cpu[a].main).Seconds()
	out.ChildCPUS = (w.cpu[b].children - w.cpu[a].children).Seconds()
	for _, r := range w.rewrites {
		end := r.End
		if end.IsZero() {
			end = w.cpu[len(w.cpu)-1].at
		}
		if r.Start.After(to) || end.Before(from) {
			continue
		}
		out.Rewrites++
		if !r.Start.Before(from) {
			out.Started++
			out.ForkMS = max(out.ForkMS, r.ForkMS)
		}
		if !r.End.IsZero() && !r.End.After(to) {
			out.Ended++
			out.CowMB = max(out.CowMB, float64(r.CowBytes)/(1<<20))
		}
		out.RewriteS += minTime(end, to).Sub(maxTime(r.Start, from)).Seconds()
	}
	// Latency samples are stamped with whole seconds: a sample counts in
	// the window when its second overlaps it.
	lo, hi := from.Unix(), to.Unix()
	for event, m := range w.latency {
		e := LatencyEvent{Event: event}
		for sec, ms := range m {
			if sec >= lo && sec <= hi {
				e.Seconds++
				e.MaxMS = max(e.MaxMS, ms)
			}
		}
		if e.Seconds > 0 {
			out.Events = append(out.Events, e)
		}
	}
	slices.SortFunc(out.Events, func(x, y LatencyEvent) int { return strings.Compare(x.Event, y.Event) })
	return out
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// Poll reads INFO every every and the latency monitor every latencyEvery
// (it keeps 160 seconds with spikes per event) into the watch until ctx
// ends. A failed read is skipped: the watch then has a gap (a window
// without readings on both sides is not Known), never an error.
func (w *RedisWatch) Poll(ctx context.Context, rdb RedisReader, every, latencyEvery time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	var lastLatency time.Time
	for {
		if p, err := ReadRedisPersistence(ctx, rdb); err == nil {
			w.Observe(time.Now(), p)
		}
		if time.Since(lastLatency) >= latencyEvery {
			lastLatency = time.Now()
			if events, err := ReadRedisLatency(ctx, rdb); err == nil {
				for name, s := range events {
					w.AddLatency(name, s)
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

package httpapi

import (
	"context"
	"log/slog"
	"math"
	"sync"
	"time"
)

// The ledger's states as /readyz reports them (its "ledger" field).
const (
	ledgerUnknown     = "unknown"     // no probe has finished yet
	ledgerReachable   = "reachable"   // the last probe read the election record
	ledgerUnreachable = "unreachable" // the last probe failed or timed out
)

// ledgerProbe reads the election record from the ledger (Deps.Ledger,
// uncached) in the background, every Config.LedgerProbeInterval, each read
// bounded by Config.LedgerProbeTimeout, and keeps the last outcome for
// /readyz's body, the ledger_probe_* gauges and a log line when it changes
// (warn when the ledger becomes unreachable, info when it is back).
//
// It reports and never gates: a vote's intake does not wait for the ledger
// (accepted durably in Redis now, committed later), so a slow or
// unreachable ledger is no reason to take a gateway out of rotation; and
// all gateways share the ledger, so taking one out for it takes them all
// out (docs/operations.md, "Health endpoints").
type ledgerProbe struct {
	src               Elections
	interval, timeout time.Duration
	now               func() time.Time
	log               *slog.Logger
	m                 *metrics

	mu    sync.Mutex
	state string
	okAt  time.Time // when a probe last succeeded; zero: none has
	since time.Time // when state began
}

func newLedgerProbe(src Elections, cfg Config, m *metrics, log *slog.Logger) *ledgerProbe {
	return &ledgerProbe{src: src, interval: cfg.LedgerProbeInterval, timeout: cfg.LedgerProbeTimeout,
		now: cfg.Now, log: log, m: m, state: ledgerUnknown}
}

// run probes at once and then every interval until ctx ends. It returns
// when ctx ends and the probe in flight, if any, has returned (the source
// honours its context, which the timeout bounds).
func (p *ledgerProbe) run(ctx context.Context) {
	tick := time.NewTicker(p.interval)
	defer tick.Stop()
	for {
		p.probe(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// probe reads the election record once and records the outcome, unless
// ctx ended meanwhile (shutting down says nothing about the ledger).
func (p *ledgerProbe) probe(ctx context.Context) {
	pctx, cancel := context.WithTimeout(ctx, p.timeout)
	_, err := p.src.Election(pctx)
	cancel()
	if ctx.Err() != nil {
		return
	}
	p.record(err)
}

// record sets the state from a probe's outcome, with its gauges, and logs
// a change.
func (p *ledgerProbe) record(err error) {
	now := p.now()
	state := ledgerReachable
	if err != nil {
		state = ledgerUnreachable
	}
	p.mu.Lock()
	was, since := p.state, p.since
	if state != was {
		p.state, p.since = state, now
	}
	if err == nil {
		p.okAt = now
	}
	okAt := p.okAt
	p.mu.Unlock()

	if err == nil {
		p.m.ledgerReachable.Set(1)
		p.m.ledgerLastOK.Set(float64(now.UnixMilli()) / 1000)
	} else {
		p.m.ledgerReachable.Set(0)
	}
	switch {
	case state == was:
	case state == ledgerUnreachable:
		lastOK := "never"
		if !okAt.IsZero() {
			lastOK = now.Sub(okAt).Round(time.Millisecond).String() + " ago"
		}
		p.log.Warn("ledger unreachable; votes are taken until the election record is --election-max-age old, then refused 503 election_unavailable until the ledger answers (readiness does not depend on the ledger)",
			"err", err, "last_success", lastOK)
	case was == ledgerUnreachable:
		p.log.Info("ledger reachable again", "unreachable_for", now.Sub(since).Round(time.Millisecond).String())
	default:
		p.log.Debug("ledger reachable")
	}
}

// status returns the state and how long ago a probe last succeeded
// (negative when none has).
func (p *ledgerProbe) status() (string, time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.okAt.IsZero() {
		return p.state, -1
	}
	return p.state, p.now().Sub(p.okAt)
}

// readiness is /readyz's answer when the gateway can take votes.
type readiness struct {
	Status string `json:"status"` // always "ready"
	// Ledger is the last ledger probe's outcome (ledgerReachable, …).
	Ledger string `json:"ledger"`
	// LedgerLastSuccessAge is how many seconds ago a probe last reached
	// the ledger (millisecond precision); absent when none has.
	LedgerLastSuccessAge *float64 `json:"ledger_last_success_age_seconds,omitempty"`
}

// readiness is the answer of a ready gateway, with the ledger's state.
func (p *ledgerProbe) readiness() readiness {
	state, age := p.status()
	r := readiness{Status: "ready", Ledger: state}
	if age >= 0 {
		secs := math.Round(age.Seconds()*1000) / 1000
		r.LedgerLastSuccessAge = &secs
	}
	return r
}

package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sync"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/votechain/votechain/bench/measure"
)

// Phase is the outcome of one constant-rate attack.
type Phase struct {
	Name          string          `json:"name"`
	Offered       float64         `json:"offered_per_s"`
	StartS        float64         `json:"start_s"` // seconds from the timeline's start
	DurationS     float64         `json:"duration_s"`
	Sent          int             `json:"sent"`
	Codes         [outcomes]int   `json:"-"`
	Accepted      int             `json:"accepted"`
	Duplicates    int             `json:"duplicates_409"`
	Ineligible    int             `json:"ineligible_403"`
	Overloaded    int             `json:"overloaded_503"`
	OtherStatus   int             `json:"other_status"`
	Errors        int             `json:"transport_errors"`
	SentPerS      float64         `json:"sent_per_s"`
	AcceptedPerS  float64         `json:"accepted_per_s"` // 202s by the phase's end + grace, per second of the phase
	AnsweredPerS  float64         `json:"answered_per_s"` // non-503 answers by the end + grace, per second
	AcceptLatency measure.Latency `json:"accept_latency"` // of 202 answers
	AnswerLatency measure.Latency `json:"answer_latency"` // of all non-503 answers
	ErrorSamples  []string        `json:"error_samples,omitempty"`
}

// Step is the phase as a rung of a ramp.
func (p Phase) Step() KneeStep {
	failed := float64(p.Overloaded+p.Errors) / math.Max(p.DurationS, 1e-9)
	return KneeStep{Offered: p.Offered, Answered: p.AnsweredPerS, Accepted: p.AcceptedPerS, Failed: failed,
		P99: time.Duration(p.AnswerLatency.P99ms * float64(time.Millisecond))}
}

// Runner attacks the gateway with the generator's votes.
type Runner struct {
	URL        string // the gateway's vote endpoint, e.g. http://127.0.0.1:27380/api/v1/vote
	Gen        *Generator
	Rec        *Recorder
	Progress   io.Writer     // one line per second while an attack runs; nil for none
	Timeout    time.Duration // per request; default 30 s
	MaxWorkers uint64        // concurrent requests at most; default 1024
	Grace      time.Duration // answers up to this long after a phase still count for its throughput; default 1 s
}

func (r *Runner) attacker() *vegeta.Attacker {
	timeout, workers := r.Timeout, r.MaxWorkers
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	if workers == 0 {
		workers = 1024
	}
	return vegeta.NewAttacker(vegeta.Timeout(timeout), vegeta.Workers(64), vegeta.MaxWorkers(workers),
		vegeta.Connections(int(workers)), vegeta.KeepAlive(true), vegeta.HTTP2(false), vegeta.MaxBody(1024))
}

// Constant offers rate votes per second for d, open loop, and returns the
// phase's outcome. It ends early with ctx or when the roll is exhausted
// (returning the partial phase and ErrRollExhausted).
func (r *Runner) Constant(ctx context.Context, name string, rate float64, d time.Duration) (Phase, error) {
	return r.attack(ctx, name, rate, d, r.Gen.Targeter(r.URL))
}

// Resend offers rate re-sends per second for d of the first voters the
// generator sent fresh (Generator.ResendTargeter): a duplicate storm.
func (r *Runner) Resend(ctx context.Context, name string, rate float64, d time.Duration, voters int) (Phase, error) {
	tr, err := r.Gen.ResendTargeter(r.URL, voters)
	if err != nil {
		return Phase{Name: name, Offered: rate}, err
	}
	return r.attack(ctx, name, rate, d, tr)
}

func (r *Runner) attack(ctx context.Context, name string, rate float64, d time.Duration, tr vegeta.Targeter) (Phase, error) {
	atk := r.attacker()
	began := time.Now()
	// No attack name: vegeta would send it as a header the gateway parses
	// on every request.
	results := atk.Attack(tr, vegeta.ConstantPacer{Freq: int(math.Round(rate)), Per: time.Second}, d, "")
	stop := context.AfterFunc(ctx, func() { atk.Stop() })
	defer stop()

	var mu sync.Mutex
	var second [outcomes]int
	done := make(chan struct{})
	go r.progress(name, rate, began, &mu, &second, done)

	p := Phase{Name: name, Offered: rate, StartS: began.Sub(r.Rec.timeline.Start).Seconds(), DurationS: d.Seconds()}
	grace := r.Grace
	if grace <= 0 {
		grace = time.Second
	}
	inTime := began.Add(d + grace)
	var answered, acceptedInTime int
	var acceptLat, answerLat []time.Duration
	var runErr error
	for res := range results {
		if res.Code == 0 && res.Error == ErrRollExhausted.Error() {
			runErr = ErrRollExhausted
			continue
		}
		o := r.Rec.record(res)
		mu.Lock()
		second[o]++
		mu.Unlock()
		p.Sent++
		p.Codes[o]++
		if o != overloaded && o != transportError {
			answerLat = append(answerLat, res.Latency)
			if !res.End().After(inTime) {
				answered++
				if o == accepted {
					acceptedInTime++
				}
			}
		}
		if o == accepted {
			acceptLat = append(acceptLat, res.Latency)
		}
		if (o == transportError || o == otherStatus) && len(p.ErrorSamples) < 3 && !slices.Contains(p.ErrorSamples, res.Error) {
			p.ErrorSamples = append(p.ErrorSamples, res.Error)
		}
	}
	close(done)
	if runErr != nil {
		p.DurationS = time.Since(began).Seconds()
	}
	p.Accepted, p.Duplicates, p.Ineligible = p.Codes[accepted], p.Codes[duplicate], p.Codes[ineligible]
	p.Overloaded, p.OtherStatus, p.Errors = p.Codes[overloaded], p.Codes[otherStatus], p.Codes[transportError]
	p.SentPerS = float64(p.Sent) / p.DurationS
	// Throughput counts the answers that came by the phase's end plus a
	// grace (a server that keeps up answers within a latency of the end;
	// one that falls behind answers later and is not credited), over the
	// phase's duration.
	p.AnsweredPerS = float64(answered) / p.DurationS
	p.AcceptedPerS = float64(acceptedInTime) / p.DurationS
	p.AcceptLatency, p.AnswerLatency = measure.Summarize(acceptLat), measure.Summarize(answerLat)
	if ctx.Err() != nil && runErr == nil {
		runErr = ctx.Err()
	}
	return p, runErr
}

// progress prints, once a second, what the last second brought.
func (r *Runner) progress(name string, rate float64, began time.Time, mu *sync.Mutex, second *[outcomes]int, done <-chan struct{}) {
	if r.Progress == nil {
		return
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case now := <-t.C:
			mu.Lock()
			s := *second
			*second = [outcomes]int{}
			mu.Unlock()
			fmt.Fprintf(r.Progress, "  %-12s %5.0fs offered %6.0f/s  202 %6d  409 %5d  403 %5d  503 %5d  err %5d\n",
				name, now.Sub(began).Seconds(), rate, s[accepted], s[duplicate], s[ineligible], s[overloaded], s[transportError]+s[otherStatus])
		}
	}
}

// Ramp offers each rate for step in turn and stops after the first step
// that the criteria say was not served. It returns the steps run and the
// index of the knee among them (FindKnee; -1 if even the first failed).
func (r *Runner) Ramp(ctx context.Context, rates []float64, step time.Duration, c KneeCriteria) ([]Phase, int, error) {
	var phases []Phase
	var steps []KneeStep
	for _, rate := range rates {
		p, err := r.Constant(ctx, fmt.Sprintf("ramp-%.0f", rate), rate, step)
		phases = append(phases, p)
		steps = append(steps, p.Step())
		if err != nil {
			return phases, FindKnee(steps, c), err
		}
		if !c.Served(p.Step()) {
			break
		}
	}
	return phases, FindKnee(steps, c), nil
}

// IsExhausted reports whether err says the roll ran out.
func IsExhausted(err error) bool { return errors.Is(err, ErrRollExhausted) }

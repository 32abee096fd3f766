package loadgen

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

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
	AcceptLatency measure.Latency `json:"accept_latency"` // of 202 answers, to their arrival (attack)
	AnswerLatency measure.Latency `json:"answer_latency"` // of all non-503 answers
	// ReadLag is how long the 202s waited in the load generator's sockets
	// after they arrived, before it read them: the part of its own delay
	// the latencies above leave out.
	ReadLag      measure.Latency `json:"read_lag"`
	ErrorSamples []string        `json:"error_samples,omitempty"`
	// Self is the load generator's own Go runtime over the phase (it runs
	// in the benchmark's process, on the machine it measures): a collection
	// or a scheduling wait here delays the answers it reads, and shows in
	// the latencies as if the gateway had been slow.
	Self measure.GoRuntime `json:"load_generator"`
	// Stalls is the whole machine's over the phase: time its tasks waited
	// for a core, for memory (reclaim) or for I/O, and the direct reclaims.
	Stalls measure.Stalls `json:"machine_stalls"`
	// InGateway, when the bench measured it, is the gateway's own time for
	// the phase's 202s (its api_request_duration_seconds of POST
	// /api/v1/vote: from its handler's start to the answer written, the
	// Redis call included), estimated from the histogram's buckets. The
	// rest of AcceptLatency lies outside the handler: the request waiting
	// in the gateway's socket and its goroutine waiting to run, and the
	// answer's way back.
	InGateway *measure.Estimate `json:"gateway_202,omitempty"`
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
	Progress   io.Writer     // a line per second while an attack runs, and one as the gateway stops and starts answering (StallAfter); nil for none, and no stall watch
	Timeout    time.Duration // per request; default 30 s
	MaxWorkers uint64        // concurrent requests (and connections) at most; default 1024
	Grace      time.Duration // answers up to this long after a phase still count for its throughput; default 1 s
	StallAfter time.Duration // no answer this long while requests wait: the gateway stopped answering; default 5 s
	// Procs is the process's GOMAXPROCS while an attack runs (set at its
	// start, restored at its end, so attacks of one process must not
	// overlap); default 1, negative leaves it alone. On one P the workers
	// hand work to one another without waking a second thread, which
	// costs the machine under test less CPU per request (docs/operations.md).
	Procs int
	// OnStep, if set, is called by Ramp as each step begins, with the
	// step's name, and the function it returns as the step ends (its
	// answers' grace included): what the bench books each step's CPU by.
	OnStep func(step string) (end func())
}

// maxVoteAnswer is how much of an answer's body is kept: a 202's vote id
// comes first.
const maxVoteAnswer = 1024

// Constant offers rate votes per second for d, open loop, and returns the
// phase's outcome. It ends early with ctx or when the roll is exhausted
// (returning the partial phase and ErrRollExhausted).
func (r *Runner) Constant(ctx context.Context, name string, rate float64, d time.Duration) (Phase, error) {
	return r.attack(ctx, name, rate, d, r.Gen.Votes())
}

// Resend offers rate re-sends per second for d of the first voters the
// generator sent fresh (Generator.Resends): a duplicate storm.
func (r *Runner) Resend(ctx context.Context, name string, rate float64, d time.Duration, voters int) (Phase, error) {
	src, err := r.Gen.Resends(voters)
	if err != nil {
		return Phase{Name: name, Offered: rate}, err
	}
	return r.attack(ctx, name, rate, d, src)
}

// tally is what one worker saw of a phase; the phase adds them up.
type tally struct {
	codes                    [outcomes]int
	answered, acceptedInTime int
	acceptLat, answerLat     []time.Duration
	readLag                  []time.Duration
	errorSamples             []errorSample // the first failure of each kind (sampleError)
}

// add records one answer of outcome o; inTime is the phase's end + grace.
func (t *tally) add(a *answer, o outcome, inTime time.Time, err error) {
	t.codes[o]++
	if o != overloaded && o != transportError {
		t.answerLat = append(t.answerLat, a.latency)
		if !a.end().After(inTime) {
			t.answered++
			if o == accepted {
				t.acceptedInTime++
			}
		}
	}
	if o == accepted {
		t.acceptLat = append(t.acceptLat, a.latency)
		t.readLag = append(t.readLag, a.readLag)
	}
	if o == transportError || o == otherStatus {
		t.sampleError(a.code, err)
	}
}

// attack offers rate requests per second for d, open loop: the i-th request
// is due at i/rate from the start and is handed to an idle worker then (the
// one idle the shortest time, crew), a new worker (and connection) being
// started when none is idle, up to MaxWorkers; with all of them busy the
// schedule waits for one and then catches up. Latency runs from the moment
// a worker sends the request to the answer's arrival in its socket by the
// kernel's clock (conn.arrived; to the read where the kernel gives no
// time): the load generator shares the cores with what it measures, and
// the time it waits for one before reading an answer (ReadLag) is its
// own delay, not the server's.
func (r *Runner) attack(ctx context.Context, name string, rate float64, d time.Duration, src Source) (Phase, error) {
	timeout, maxWorkers := r.Timeout, int(r.MaxWorkers)
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	if maxWorkers <= 0 {
		maxWorkers = 1024
	}
	grace := r.Grace
	if grace <= 0 {
		grace = time.Second
	}
	tgt, err := newTarget(http.MethodPost, r.URL, "application/json")
	if err != nil {
		return Phase{Name: name, Offered: rate}, err
	}
	// Collect before the clock starts (on all of the process's threads): the
	// process holds the roll and every 202's id, and a cycle begun inside a
	// phase marks that heap on the phase's one thread, delaying the answers
	// it reads, which then look like the gateway's latency (bench run 22:
	// one cycle, 474 ms of collector CPU, inside the 10,000/s phase).
	runtime.GC()
	if procs := cmp.Or(r.Procs, 1); procs > 0 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
	}
	self, stalls := measure.ReadGoRuntime(), measure.ReadStalls()
	began := time.Now()
	p := Phase{Name: name, Offered: rate, StartS: began.Sub(r.Rec.timeline.Start).Seconds(), DurationS: d.Seconds()}
	inTime := began.Add(d + grace)

	var second [outcomes]atomic.Int64
	var requests *flow // counted for the stall watch only, which is part of the progress output
	if r.Progress != nil {
		requests = new(flow)
	}
	done, reported := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(reported)
		r.progress(name, rate, began, &second, requests, done)
	}()

	crew := newCrew()
	exhausted := make(chan struct{})
	var once sync.Once
	var mu sync.Mutex
	var total tally
	var errorSamples []string // the workers' errorSamples' words, each once
	var wg sync.WaitGroup
	worker := func(wake chan struct{}) {
		defer wg.Done()
		c := newConn(tgt, timeout, maxVoteAnswer)
		defer c.close()
		var t tally
		buf := make([]byte, 0, 256)
		for range wake {
			body, contest, err := src(buf[:0])
			if err != nil {
				once.Do(func() { close(exhausted) })
				crew.rest(wake)
				continue
			}
			buf = body
			a := answer{sent: time.Now(), contest: contest}
			requests.sent()
			a.code, err = c.do(body, true)
			a.timeTo(time.Now(), c.arrived, err)
			if err == nil {
				a.body = c.body
			}
			o := r.Rec.record(&a)
			second[o].Add(1)
			requests.ended(o, err)
			t.add(&a, o, inTime, err)
			crew.rest(wake)
		}
		mu.Lock()
		defer mu.Unlock()
		for i := range t.codes {
			total.codes[i] += t.codes[i]
		}
		total.answered += t.answered
		total.acceptedInTime += t.acceptedInTime
		total.acceptLat = append(total.acceptLat, t.acceptLat...)
		total.readLag = append(total.readLag, t.readLag...)
		total.answerLat = append(total.answerLat, t.answerLat...)
		for _, e := range t.errorSamples {
			if len(errorSamples) < maxErrorSamples && !slices.Contains(errorSamples, e.text) {
				errorSamples = append(errorSamples, e.text)
			}
		}
	}

	interval := float64(time.Second) / rate
	workers, sent := 0, 0
	timer := time.NewTimer(0)
	defer timer.Stop()
	var runErr error
schedule:
	for {
		elapsed := time.Since(began)
		if elapsed >= d {
			break
		}
		// Every request due by now goes out, the first at the start.
		for due := int(float64(elapsed)/interval) + 1; sent < due; sent++ {
			for !crew.wake() {
				if workers < maxWorkers {
					workers++
					wg.Add(1)
					go worker(crew.hire())
					break
				}
				if time.Since(began) >= d {
					break schedule // every worker busy until the phase's end
				}
				select {
				case <-crew.freed:
				case <-exhausted:
					runErr = ErrRollExhausted
					break schedule
				case <-ctx.Done():
					break schedule
				}
			}
		}
		timer.Reset(time.Until(began.Add(time.Duration(float64(sent) * interval))))
		select {
		case <-timer.C:
		case <-exhausted:
			runErr = ErrRollExhausted
			break schedule
		case <-ctx.Done():
			break schedule
		}
	}
	crew.dismiss()
	wg.Wait()
	p.Self, p.Stalls = measure.ReadGoRuntime().Since(self), measure.ReadStalls().Since(stalls)
	close(done)
	<-reported
	select {
	case <-exhausted:
		runErr = ErrRollExhausted
	default:
	}
	if runErr != nil || ctx.Err() != nil {
		p.DurationS = time.Since(began).Seconds()
	}
	for _, n := range total.codes {
		p.Sent += n
	}
	p.Codes, p.ErrorSamples = total.codes, errorSamples
	p.Accepted, p.Duplicates, p.Ineligible = p.Codes[accepted], p.Codes[duplicate], p.Codes[ineligible]
	p.Overloaded, p.OtherStatus, p.Errors = p.Codes[overloaded], p.Codes[otherStatus], p.Codes[transportError]
	p.SentPerS = float64(p.Sent) / p.DurationS
	// Throughput counts the answers that came by the phase's end plus a
	// grace (a server that keeps up answers within a latency of the end;
	// one that falls behind answers later and is not credited), over the
	// phase's duration.
	p.AnsweredPerS = float64(total.answered) / p.DurationS
	p.AcceptedPerS = float64(total.acceptedInTime) / p.DurationS
	p.AcceptLatency, p.AnswerLatency = measure.Summarize(total.acceptLat), measure.Summarize(total.answerLat)
	p.ReadLag = measure.Summarize(total.readLag)
	if ctx.Err() != nil && runErr == nil {
		runErr = ctx.Err()
	}
	return p, runErr
}

// crew is an attack's workers as the schedule sees them: it hands each
// due request to the worker that became idle last (a stack, not a queue),
// so under load the requests go out back to back on the connections used
// most recently, whose answers' acknowledgements ride on the next
// request, and connections opened for a burst fall idle.
type crew struct {
	mu    sync.Mutex
	idle  []chan struct{} // idle workers' wake-ups, the latest last
	all   []chan struct{} // every worker's, closed by dismiss
	freed chan struct{}   // a worker became idle (capacity 1)
}

func newCrew() *crew { return &crew{freed: make(chan struct{}, 1)} }

// hire adds a worker busy with a request: it receives this first one on
// the returned channel, and later ones once it has rested.
func (c *crew) hire() chan struct{} {
	w := make(chan struct{}, 1)
	w <- struct{}{}
	c.mu.Lock()
	c.all = append(c.all, w)
	c.mu.Unlock()
	return w
}

// wake hands a request to the latest idle worker; false if none is idle.
func (c *crew) wake() bool {
	c.mu.Lock()
	n := len(c.idle)
	if n == 0 {
		c.mu.Unlock()
		return false
	}
	w := c.idle[n-1]
	c.idle = c.idle[:n-1]
	c.mu.Unlock()
	w <- struct{}{}
	return true
}

// rest makes the worker whose wake-up is w idle, and says so on freed.
func (c *crew) rest(w chan struct{}) {
	c.mu.Lock()
	c.idle = append(c.idle, w)
	c.mu.Unlock()
	select {
	case c.freed <- struct{}{}:
	default:
	}
}

// dismiss ends every worker once it has done the requests handed to it.
func (c *crew) dismiss() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, w := range c.all {
		close(w)
	}
	c.all, c.idle = nil, nil
}

// progress prints, once a second, what the last second brought, and, from
// samples of requests a few times a second (stallWatch), when the gateway
// stops answering and when it answers again, or that it had not when done
// closed (every request ended); it returns then.
func (r *Runner) progress(name string, rate float64, began time.Time, second *[outcomes]atomic.Int64, requests *flow, done <-chan struct{}) {
	if r.Progress == nil {
		return
	}
	watch := stallWatch{after: r.StallAfter}
	if watch.after <= 0 {
		watch.after = 5 * time.Second
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	check := time.NewTicker(max(min(time.Second, watch.after/5), time.Millisecond))
	defer check.Stop()
	tell := func(now time.Time, e stallEvent) {
		fmt.Fprintf(r.Progress, "  %-12s %5.0fs %s\n", name, now.Sub(began).Seconds(), e.message(r.URL))
	}
	for {
		select {
		case <-done:
			now := time.Now()
			if e, ok := watch.end(requests.sample(now)); ok {
				tell(now, e)
			}
			return
		case now := <-t.C:
			var s [outcomes]int64
			for i := range s {
				s[i] = second[i].Swap(0)
			}
			fmt.Fprintf(r.Progress, "  %-12s %5.0fs offered %6.0f/s  202 %6d  409 %5d  403 %5d  503 %5d  err %5d\n",
				name, now.Sub(began).Seconds(), rate, s[accepted], s[duplicate], s[ineligible], s[overloaded], s[transportError]+s[otherStatus])
		case now := <-check.C:
			if e, ok := watch.observe(requests.sample(now)); ok {
				tell(now, e)
			}
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
		name := fmt.Sprintf("ramp-%.0f", rate)
		end := func() {}
		if r.OnStep != nil {
			end = r.OnStep(name)
		}
		p, err := r.Constant(ctx, name, rate, step)
		end()
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

package httpapi

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/votechain/votechain/internal/benchenv"
)

// voteOtherEnv names another build of this test binary (say, of main
// before a change): BenchmarkVoteAB then measures its gateway too, in the
// same rounds. voteRoundsEnv sets the rounds (default 3) and voteVotesEnv
// the votes of each run (default 30,000: 6 s at 5,000 votes/s).
const (
	voteOtherEnv  = "VOTECHAIN_VOTE_OTHER"
	voteRoundsEnv = "VOTECHAIN_VOTE_ROUNDS"
	voteVotesEnv  = "VOTECHAIN_VOTE_VOTES"
)

// voteABDefaults is the environment BenchmarkVoteAB gives its runs unless
// the caller's sets it: `make bench`'s sustained phase (its load generator
// at 5,000 votes/s over its ten states) against a gateway whose collector
// runs as cmd/gateway's (--gc-percent 400).
var voteABDefaults = []string{
	loopbackStatesEnv + "=10",
	loopbackRateEnv + "=5000",
	loopbackLoadgenEnv + "=1",
	"GOGC=400",
}

// voteSide is one build BenchmarkVoteAB runs, and its runs' figures.
type voteSide struct {
	name, exe string
	gwUS      []float64 // gateway CPU per accepted vote, µs
	redisUS   []float64 // redis-server CPU per accepted vote, µs
}

// BenchmarkVoteAB compares the vote path's CPU of two builds over real
// sockets: each run is BenchmarkVoteLoopback/log-on in a process of its
// own (the gateway's handler, intake and intake log serving a loopback
// listener, a redis-server of its own with appendfsync always, the load
// client a third process), this build's and, with voteOtherEnv, another
// build's, alternating (the order rotated each round). It reports each
// build's median gateway and Redis CPU per accepted vote (from /proc, as
// BenchmarkVoteLoopback measures them) and the median of the rounds'
// new ÷ old ratios (each run's figures and each round's ratios go to
// standard error). Run it with
// -benchtime 1x and under scripts/test-lock.sh exclusive on a shared machine:
// the rounds, not b.N, set its length.
func BenchmarkVoteAB(b *testing.B) {
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	rounds, votes := benchenv.Int(b, voteRoundsEnv, 3, 0), benchenv.Int(b, voteVotesEnv, 30_000, 0)
	if rounds < 1 {
		b.Fatalf("%s=%d: want at least one round", voteRoundsEnv, rounds)
	}
	sides := []*voteSide{{name: "new", exe: exe}}
	if other := os.Getenv(voteOtherEnv); other != "" {
		sides = append(sides, &voteSide{name: "old", exe: other})
	}
	env := os.Environ()
	for _, kv := range voteABDefaults {
		if k, _, _ := strings.Cut(kv, "="); os.Getenv(k) == "" {
			env = append(env, kv)
		}
	}
	b.ResetTimer()
	for round := range rounds {
		for i := range sides { // rotated each round: no side always runs first
			s := sides[(i+round)%len(sides)]
			m, err := runVoteLoopback(s.exe, env, votes)
			if err != nil {
				b.Fatalf("%s: %v", s.name, err)
			}
			s.gwUS, s.redisUS = append(s.gwUS, m["gw-µs/vote"]), append(s.redisUS, m["redis-µs/vote"])
			fmt.Fprintf(os.Stderr, "round %d %-3s gateway %6.1f µs/vote, Redis %5.1f µs/vote, %5.1f votes/call, 202 p50 %.2f p99 %.2f ms\n",
				round+1, s.name, m["gw-µs/vote"], m["redis-µs/vote"], m["votes/call"], m["client-p50-ms"], m["client-p99-ms"])
		}
	}
	b.StopTimer()
	for _, s := range sides {
		b.ReportMetric(median(s.gwUS), s.name+"-gw-µs/vote")
		b.ReportMetric(median(s.redisUS), s.name+"-redis-µs/vote")
	}
	if len(sides) == 2 {
		n, o := sides[0], sides[1]
		for _, c := range []struct {
			unit     string
			new, old func(i int) float64
		}{
			{"gw-new/old", func(i int) float64 { return n.gwUS[i] }, func(i int) float64 { return o.gwUS[i] }},
			{"redis-new/old", func(i int) float64 { return n.redisUS[i] }, func(i int) float64 { return o.redisUS[i] }},
			{"both-new/old", func(i int) float64 { return n.gwUS[i] + n.redisUS[i] }, func(i int) float64 { return o.gwUS[i] + o.redisUS[i] }},
		} {
			ratios := make([]float64, rounds)
			for i := range ratios {
				ratios[i] = c.new(i) / c.old(i)
			}
			fmt.Fprintf(os.Stderr, "%s by round: %.3f\n", c.unit, ratios)
			b.ReportMetric(median(ratios), c.unit)
		}
	}
}

// runVoteLoopback runs BenchmarkVoteLoopback/log-on once for votes votes
// in the test binary exe, and returns its metrics by unit.
func runVoteLoopback(exe string, env []string, votes int) (map[string]float64, error) {
	cmd := exec.Command(exe, "-test.run=^$", "-test.bench=^BenchmarkVoteLoopback$/^log-on$", "-test.benchtime="+strconv.Itoa(votes)+"x")
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%w: %s%s", err, out.Bytes(), errb.Bytes())
	}
	m := benchMetrics(out.String())
	if _, ok := m["gw-µs/vote"]; !ok {
		return nil, fmt.Errorf("no gw-µs/vote in %q", out.String())
	}
	return m, nil
}

// benchMetrics reads the "value unit" pairs of go test -bench output.
func benchMetrics(out string) map[string]float64 {
	m := map[string]float64{}
	f := strings.Fields(out)
	for i := 1; i < len(f); i++ {
		if v, err := strconv.ParseFloat(f[i-1], 64); err == nil && strings.ContainsAny(f[i], "/-") {
			m[f[i]] = v
		}
	}
	return m
}

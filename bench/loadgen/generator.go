// Package loadgen is the benchmark's load generation against the gateway
// over HTTP (its own HTTP/1.1 client over persistent connections, client.go,
// open loop, runner.go): votes from the synthetic roll spread over states with
// a population skew (skew.go), a share of duplicate and ineligible attempts,
// at a constant open-loop rate, as a ramp that finds the knee (knee.go), as
// a surge, or as re-sends of voters who already voted; it records every
// answer, the vote id of every 202, and per-second series for the report.
// It also drives the results reads against a bare handler (reads.go) and
// watches the vote queues in Redis (queue.go).
package loadgen

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"sync"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/gateway/roll"
)

// Kind is what a generated attempt is meant to be.
type Kind int

// Kinds of attempts.
const (
	Fresh      Kind = iota // an eligible voter's first vote: expect 202
	Duplicate              // a voter who already voted, again: expect 409
	Ineligible             // a voter id not on the roll: expect 403
	kinds
)

// ErrRollExhausted ends an attack when every voter on the roll has voted.
var ErrRollExhausted = errors.New("loadgen: every voter on the roll has voted; use a bigger roll")

// Mix is the share of attempts that are not fresh votes.
type Mix struct {
	Duplicate  float64 // share of attempts re-sending a voter who already voted
	Ineligible float64 // share of attempts with a voter id not on the roll
}

// Validate reports a mix that leaves no share for fresh votes, or has a
// share below zero.
func (m Mix) Validate() error {
	if !(m.Duplicate >= 0 && m.Ineligible >= 0 && m.Duplicate+m.Ineligible < 1) {
		return fmt.Errorf("the duplicate share %v and the ineligible share %v must each be at least 0 and together below 1", m.Duplicate, m.Ineligible)
	}
	return nil
}

// Roll is the voters of each state, in roll order.
type Roll struct {
	States []string
	Voters [][]roll.Entry // per state, in States order
}

// ReadRoll reads a roll CSV (voter_id, credential, state), keeping the
// voters of the given states (any state if states is empty).
func ReadRoll(path string, states []string) (*Roll, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("loadgen: roll: %w", err)
	}
	defer f.Close()
	r := &Roll{}
	index := map[string]int{}
	for _, s := range states {
		index[s] = len(r.States)
		r.States = append(r.States, s)
		r.Voters = append(r.Voters, nil)
	}
	err = roll.ReadCSV(f, func(_ int, e roll.Entry) error {
		i, ok := index[e.State]
		if !ok {
			if len(states) > 0 {
				return nil
			}
			i = len(r.States)
			index[e.State] = i
			r.States = append(r.States, e.State)
			r.Voters = append(r.Voters, nil)
		}
		r.Voters[i] = append(r.Voters[i], e)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("loadgen: roll %s: %w", path, err)
	}
	return r, nil
}

// Size is the number of voters on the roll.
func (r *Roll) Size() int {
	n := 0
	for _, v := range r.Voters {
		n += len(v)
	}
	return n
}

// voteBody is the JSON body of POST /api/v1/vote.
type voteBody struct {
	VoterID    string `json:"voter_id"`
	Credential string `json:"credential"`
	State      string `json:"state"`
	Contest    string `json:"contest,omitempty"` // omitted when the election has one contest
	Choice     string `json:"choice"`
}

// appendJSON appends the body's JSON encoding (what encoding/json gives,
// without reflection for the plain strings rolls hold).
func (b voteBody) appendJSON(dst []byte) []byte {
	dst = append(dst, `{"voter_id":`...)
	dst = appendJSONString(dst, b.VoterID)
	dst = append(dst, `,"credential":`...)
	dst = appendJSONString(dst, b.Credential)
	dst = append(dst, `,"state":`...)
	dst = appendJSONString(dst, b.State)
	if b.Contest != "" {
		dst = append(dst, `,"contest":`...)
		dst = appendJSONString(dst, b.Contest)
	}
	dst = append(dst, `,"choice":`...)
	dst = appendJSONString(dst, b.Choice)
	return append(dst, '}')
}

// appendJSONString appends s as a JSON string: as it is when it is
// printable ASCII needing no escape, else as encoding/json writes it.
func appendJSONString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(dst, q...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// Generator makes vote attempts; it is safe for concurrent use. Each roll
// voter is sent fresh at most once.
type Generator struct {
	mu       sync.Mutex
	rng      *rand.Rand
	roll     *Roll
	next     []int // next unused voter per state
	picker   *Picker
	mix      Mix
	contests []ballot.Contest
	sent     []voterRef // voters sent fresh, for duplicates
	ghosts   int
	counts   [kinds]int64
}

// NewGenerator returns a generator over the roll's voters, picking states
// with the Weights of the roll's states. Each voter votes in one of the
// contests (contestOf), for a choice picked at random.
func NewGenerator(r *Roll, contests []ballot.Contest, mix Mix, seed uint64) (*Generator, error) {
	if len(contests) == 0 {
		return nil, errors.New("loadgen: no contests")
	}
	if err := mix.Validate(); err != nil {
		return nil, fmt.Errorf("loadgen: %w", err)
	}
	p, err := NewPicker(Weights(r.States))
	if err != nil {
		return nil, err
	}
	return &Generator{
		rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), roll: r, next: make([]int, len(r.States)),
		picker: p, mix: mix, contests: contests,
	}, nil
}

// Next returns the body of the next attempt and its kind.
func (g *Generator) Next() ([]byte, Kind, error) {
	body, _, kind, err := g.attempt(nil)
	return body, kind, err
}

// attempt appends the next attempt's body to dst and returns it, the id of
// its contest and its kind.
func (g *Generator) attempt(dst []byte) ([]byte, string, Kind, error) {
	g.mu.Lock()
	v, kind, err := g.pick()
	if err == nil {
		g.counts[kind]++
	}
	body, contest := g.voteBody(v)
	g.mu.Unlock()
	if err != nil {
		return dst, "", 0, err
	}
	return body.appendJSON(dst), contest, kind, nil
}

// voteBody is v's vote in its contest (contestOf) for a random choice, and
// that contest's id; g.mu is held. The body names the contest only if the
// election has several.
func (g *Generator) voteBody(v roll.Entry) (voteBody, string) {
	c := g.contests[contestOf(v.VoterID, len(g.contests))]
	b := voteBody{VoterID: v.VoterID, Credential: v.Credential, State: v.State, Choice: c.Choices[g.rng.IntN(len(c.Choices))]}
	if len(g.contests) > 1 {
		b.Contest = c.ID
	}
	return b, c.ID
}

// contestOf is the index, among n contests, of the one voterID votes in: a
// hash of the id, so a re-sent vote names the same contest.
func contestOf(voterID string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(voterID))
	return int(h.Sum32() % uint32(n))
}

// Source makes the bodies of vote requests: it appends the next one to dst
// and returns it with the id of its vote's contest (a Generator's Votes or
// Resends). It is safe for concurrent use.
type Source func(dst []byte) (body []byte, contest string, err error)

// SentFresh is how many roll voters have been sent fresh so far, in order:
// a mark for Resends.
func (g *Generator) SentFresh() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.sent)
}

// Resends returns a source re-sending votes of voters picked at random
// among the first n the generator sent fresh (n from SentFresh after a
// phase whose votes are known to be in): only duplicates, counted as such
// in Counts.
func (g *Generator) Resends(n int) (Source, error) {
	g.mu.Lock()
	sent := len(g.sent)
	g.mu.Unlock()
	if n <= 0 || n > sent {
		return nil, fmt.Errorf("loadgen: resend among the first %d voters, but %d were sent", n, sent)
	}
	return func(dst []byte) ([]byte, string, error) {
		g.mu.Lock()
		v := g.voter(g.sent[g.rng.IntN(n)])
		body, contest := g.voteBody(v)
		g.counts[Duplicate]++
		g.mu.Unlock()
		return body.appendJSON(dst), contest, nil
	}, nil
}

// voterRef is a roll voter by place, g.roll.Voters[state][i]: the
// generator's list of the voters it sent (millions in a bench run) then
// holds no pointers for the collector to scan, and a quarter of the bytes.
type voterRef struct{ state, i uint32 }

// voter is the roll entry ref points at.
func (g *Generator) voter(ref voterRef) roll.Entry { return g.roll.Voters[ref.state][ref.i] }

// pick chooses the voter of the next attempt; g.mu is held.
func (g *Generator) pick() (roll.Entry, Kind, error) {
	u := g.rng.Float64()
	switch {
	case u < g.mix.Duplicate && len(g.sent) > 0:
		return g.voter(g.sent[g.rng.IntN(len(g.sent))]), Duplicate, nil
	case u < g.mix.Duplicate+g.mix.Ineligible:
		g.ghosts++
		st := g.roll.States[g.picker.Pick(g.rng.Float64())]
		return roll.Entry{VoterID: fmt.Sprintf("ghost-%d-%d", g.rng.Uint32(), g.ghosts), Credential: "0000000000000000", State: st}, Ineligible, nil
	}
	st := g.picker.Pick(g.rng.Float64())
	for range g.roll.States { // a state whose voters all voted: take the next with voters left
		if g.next[st] < len(g.roll.Voters[st]) {
			v := g.roll.Voters[st][g.next[st]]
			g.next[st]++
			g.sent = append(g.sent, voterRef{uint32(st), uint32(g.next[st] - 1)})
			return v, Fresh, nil
		}
		st = (st + 1) % len(g.roll.States)
	}
	return roll.Entry{}, 0, ErrRollExhausted
}

// Counts returns how many attempts of each kind were generated.
func (g *Generator) Counts() (fresh, duplicate, ineligible int64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.counts[Fresh], g.counts[Duplicate], g.counts[Ineligible]
}

// Remaining is how many roll voters have not been sent yet.
func (g *Generator) Remaining() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for i, vs := range g.roll.Voters {
		n += len(vs) - g.next[i]
	}
	return n
}

// TakeUnsent removes the roll voters not yet sent fresh from the generator
// and returns them, per state in roll order: once the intake phases are
// over they can vote another way (the ledger drives). Later attempts of
// the generator find the roll exhausted.
func (g *Generator) TakeUnsent() *Roll {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := &Roll{States: g.roll.States, Voters: make([][]roll.Entry, len(g.roll.States))}
	for i, vs := range g.roll.Voters {
		out.Voters[i] = vs[g.next[i]:]
		g.next[i] = len(vs)
	}
	return out
}

// Votes returns a source of the generator's attempts.
func (g *Generator) Votes() Source {
	return func(dst []byte) ([]byte, string, error) {
		body, contest, _, err := g.attempt(dst)
		return body, contest, err
	}
}

// Package roll turns the commission's voter roll into what the gateway and
// the ledger need, without ever storing personal data there.
//
// The roll is a CSV of (voter_id, credential, state) rows. Every voter on it
// may vote once in every contest of the election. For each row the voter key
// is derived from the election secret and the voter's id and credential
// (ballot.VoterKey), and from it one nullifier per contest
// (ballot.NullifierOf): the roll's entries are (state, contest, nullifier).
// Load puts each state's nullifiers on its Redis roll (votequeue.Enroll,
// pipelined, the roll's shards sized from the state's entries), sizes each
// state's Bloom filter from its roll, and computes the
// roll's Merkle root over the sorted nullifiers (ballot.MerkleRoot), which the
// commission publishes in the election record so auditors can check that every
// nullifier on the ledger belongs to the roll.
//
// Generate writes synthetic rolls for tests and benchmarks.
//
// The package's errors do not begin with its name: the caller names the
// roll (its file), and an error about one of its rows begins "line N:".
package roll

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/gateway/bloom"
	"github.com/votechain/votechain/gateway/dedup"
	"github.com/votechain/votechain/gateway/votequeue"
)

// Header is the CSV header row; it is optional on input and always written.
// Each call returns a new slice, so no caller can change the header for
// the others.
func Header() []string {
	return []string{"voter_id", "credential", "state"}
}

// Entry is one row of the roll.
type Entry struct {
	VoterID, Credential, State string
}

// Nullifier derives the entry's nullifier in contest with the election
// secret, for the election electionID.
func (e Entry) Nullifier(secret []byte, electionID, contest string) [32]byte {
	return ballot.NullifierOf(ballot.VoterKey(secret, electionID, e.VoterID, e.Credential), contest)
}

// ReadCSV calls fn for every row of a roll CSV, checking each row's form,
// and returns fn's first error as it is. The first row may be Header; a
// row of another form is an error that begins "line N:" and says the form.
func ReadCSV(r io.Reader, fn func(line int, e Entry) error) error {
	header := Header()
	return eachRecord(r, "", header, func(first bool, line int, rec []string) error {
		if first && slices.Equal(rec, header) {
			return nil
		}
		e := Entry{VoterID: rec[0], Credential: rec[1], State: rec[2]}
		var problem string
		switch {
		case e.VoterID == "" || e.Credential == "":
			problem = "empty voter_id or credential"
		case !ballot.ValidState(e.State):
			problem = fmt.Sprintf("invalid state %q (a state code is 2..8 characters of [A-Z0-9])", e.State)
		default:
			return fn(line, e)
		}
		if first {
			problem += "; a header, if the file has one, must be " + strings.Join(header, ",")
		}
		return fmt.Errorf("line %d: %s", line, problem)
	})
}

// eachRecord calls fn for every record of a CSV with header's columns (the
// caller skips the header row, which is optional: first marks the file's
// first record), with the 1-based file line it begins on (blank lines and
// quoted line breaks counted, as an editor numbers them), and returns fn's
// first error as it is. The record is reused
// between calls. A record that is not CSV or has another number of fields
// is an error that begins with where it is (at(name, line)) and, for the
// latter, names the columns.
func eachRecord(r io.Reader, name string, header []string, fn func(first bool, line int, rec []string) error) error {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = len(header)
	cr.ReuseRecord = true
	for first := true; ; first = false {
		rec, err := cr.Read()
		switch {
		case errors.Is(err, io.EOF):
			return nil
		case errors.Is(err, csv.ErrFieldCount):
			line, _ := cr.FieldPos(0)
			return fmt.Errorf("%s: want %d fields, %s (the first line may be that header), got %d", at(name, line), len(header), strings.Join(header, ","), len(rec))
		case err != nil:
			if pe, ok := errors.AsType[*csv.ParseError](err); ok {
				return fmt.Errorf("%s, column %d: not CSV: %w", at(name, pe.Line), pe.Column, pe.Err)
			}
			return err
		}
		line, _ := cr.FieldPos(0)
		if err := fn(first, line, rec); err != nil {
			return err
		}
	}
}

// at is where line of the CSV file name is, "name line N", or "line N"
// without a name.
func at(name string, line int) string {
	if name == "" {
		return fmt.Sprintf("line %d", line)
	}
	return fmt.Sprintf("%s line %d", name, line)
}

// member is one nullifier of the roll with its state and contest, for the
// root and the cross-state check.
type member struct {
	nullifier [32]byte
	state     string
	contest   string
}

// Summary is the result of reading (and maybe loading) a roll.
type Summary struct {
	Root    string           `json:"roll_root"`    // hex Merkle root over sorted distinct nullifiers
	Voters  int              `json:"voters"`       // distinct voters
	Entries int              `json:"roll_entries"` // distinct nullifiers, one per voter and contest: the roll's size the election record states
	Rows    int              `json:"rows"`         // CSV rows read
	States  map[string]State `json:"states"`
	// Roll is the roll as the ledger holds it (ballot.LoadRoll's input),
	// sorted by nullifier; only with Options.Entries.
	Roll []ballot.RollEntry `json:"-"`
}

// State is one state's part of the roll.
type State struct {
	Voters  int    `json:"voters"`
	Entries int    `json:"entries"`         // the state's nullifiers: one per voter and contest
	Bloom   string `json:"bloom,omitempty"` // Bloom shape "bits,hashes" in use (not on a dry run)
}

// Options tune Load.
type Options struct {
	// ElectionID is the id of the election the roll is for (required):
	// nullifiers are bound to it (ballot.VoterKey).
	ElectionID string
	// Contests are the ids of the election's contests (required): every
	// voter gets a nullifier in each.
	Contests []string
	// States are the election's states: a row of any other is refused,
	// since no vote of its voter could ever count. Empty: any valid state.
	States []string
	// Redis to load into; nil only computes the summary (dry run).
	Redis redis.UniversalClient
	// FalsePositiveRate sizes each state's Bloom filter for its roll.
	FalsePositiveRate float64
	// Batch is the number of rows per pipeline.
	Batch int
	// Progress, if set, is told of every row read.
	Progress Progress
	// Enrolled, if set, is told of every roll entry written into Redis,
	// which happens once every row is read and sorted.
	Enrolled Progress
	// Entries asks for the roll's entries in the summary, to write the
	// roll to the ledger.
	Entries bool
}

// Progress is told how much work is done (internal/cli.Progress draws it).
type Progress interface{ Add(n int64) }

// checkEvery is how many rows pass between looks at the context: often
// enough to stop within a few milliseconds, seldom enough to cost nothing.
const checkEvery = 1024

// report tells p, if set, of n more units done.
func report(p Progress, n int64) {
	if p != nil {
		p.Add(n)
	}
}

// Load reads a roll CSV, derives nullifiers with secret, loads them into
// Redis when o.Redis is set, sizes the Bloom filters and returns the roll's
// summary and Merkle root. A voter listed under two states is an error
// naming both states and, when r is also an io.Seeker (a file), the lines
// that list the voter under each, found by reading r again from where Load
// began (rows' lines are not kept: the roll may be millions of rows).
// Loading is idempotent: re-running it adds nothing already there (a voter
// who has voted stays marked so, see votequeue), and a
// Bloom shape already stored (the filter may be in use) is kept and reported.
//
// Once ctx ends Load stops within checkEvery rows or one batch, with an
// error that wraps ctx's and says how far it got: while reading, nothing
// is in Redis yet; while loading, part of the roll is, and loading it again
// finishes it. A Redis error says the same.
func Load(ctx context.Context, r io.Reader, secret []byte, o Options) (Summary, error) {
	if o.ElectionID == "" {
		return Summary{}, errors.New("no election id (nullifiers are bound to the election)")
	}
	if len(o.Contests) == 0 {
		return Summary{}, errors.New("no contests (a voter's nullifiers are per contest)")
	}
	if o.Batch <= 0 {
		o.Batch = 10_000
	}
	rewind := rewinder(r)
	var members []member
	sum := Summary{States: map[string]State{}}
	keyed := ballot.NewSecret(secret) // one keyed HMAC for every row
	stopped := func(err error) error {
		if o.Redis == nil {
			return fmt.Errorf("stopped after reading %d rows: %w", sum.Rows, err)
		}
		return fmt.Errorf("stopped after reading %d rows, before writing anything into Redis: %w", sum.Rows, err)
	}
	err := ReadCSV(r, func(line int, e Entry) error {
		if len(o.States) > 0 && !slices.Contains(o.States, e.State) {
			return fmt.Errorf("line %d: state %q is not one of the election's states (%s)", line, e.State, strings.Join(o.States, ","))
		}
		key := keyed.VoterKey(o.ElectionID, e.VoterID, e.Credential)
		for _, c := range o.Contests {
			members = append(members, member{nullifier: ballot.NullifierOf(key, c), state: e.State, contest: c})
		}
		sum.Rows++
		report(o.Progress, 1)
		if sum.Rows%checkEvery == 0 && ctx.Err() != nil {
			return stopped(ctx.Err())
		}
		return nil
	})
	if err != nil {
		return Summary{}, err
	}
	if sum.Rows == 0 {
		return Summary{}, errors.New("the roll lists no voters (a header line at most): an election's roll cannot be empty, check the file")
	}
	leaves, err := distinct(members, sum.States)
	if rep, ok := errors.AsType[*repeatError](err); ok && rewind != nil {
		rep.findLines(ctx, rewind, keyed, o.ElectionID)
	}
	if err != nil {
		return Summary{}, err
	}
	if ctx.Err() != nil {
		return Summary{}, stopped(ctx.Err())
	}
	if o.Redis != nil {
		if written, err := enroll(ctx, o.Redis, o.Batch, members, sum.States, o.Enrolled); err != nil {
			return Summary{}, fmt.Errorf("stopped with at least %d of the roll's %d entries written into Redis, the rest not yet (their voters cannot vote) and no Bloom filter sized: loading the roll again finishes it (loading is idempotent): %w", written, len(leaves), err)
		}
	}
	sum.Entries = len(leaves)
	sum.Voters = len(leaves) / len(o.Contests)
	for name, st := range sum.States {
		st.Voters = st.Entries / len(o.Contests)
		sum.States[name] = st
	}
	sum.Root = ballot.HashHex(ballot.MerkleRoot(leaves))
	if o.Entries {
		sum.Roll = rollEntries(members)
	}
	if o.Redis != nil {
		if err := sizeBlooms(ctx, o.Redis, o.FalsePositiveRate, sum.States); err != nil {
			return Summary{}, fmt.Errorf("stopped with the roll's entries all in Redis but not every state's Bloom filter sized: loading the roll again finishes it (loading is idempotent): %w", err)
		}
	}
	return sum, nil
}

// enroll puts the members (sorted by nullifier, as distinct left them) on
// their states' rolls, batch at a time, each roll laid out for its state's
// entries unless a layout is stored already (votequeue.EnsureRoll), tells p
// of every distinct entry written, and returns how many were. It stops
// before the next batch once ctx ends.
func enroll(ctx context.Context, rdb redis.UniversalClient, batch int, sorted []member, states map[string]State, p Progress) (written int, err error) {
	rolls := map[string]*votequeue.Roll{}
	for name, st := range states {
		r, err := votequeue.EnsureRoll(ctx, rdb, name, votequeue.RollBits(uint64(st.Entries)))
		if err != nil {
			return 0, err
		}
		rolls[name] = r
	}
	for start := 0; start < len(sorted); start += batch {
		if err := ctx.Err(); err != nil {
			return written, err
		}
		byState := map[string][][]byte{}
		for i := start; i < min(start+batch, len(sorted)); i++ {
			if m := &sorted[i]; i == 0 || sorted[i-1].nullifier != m.nullifier {
				byState[m.state] = append(byState[m.state], m.nullifier[:])
			}
		}
		pipe := rdb.Pipeline()
		n := 0
		for st, nullifiers := range byState {
			votequeue.Enroll(ctx, pipe, rolls[st], nullifiers)
			n += len(nullifiers)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return written, err
		}
		written += n
		report(p, int64(n))
	}
	return written, nil
}

// distinct sorts members by nullifier, drops repeated rows, refuses a
// nullifier under two states, counts entries per state and returns the
// sorted distinct nullifiers.
func distinct(members []member, states map[string]State) ([][32]byte, error) {
	slices.SortFunc(members, func(a, b member) int { return bytes.Compare(a.nullifier[:], b.nullifier[:]) })
	leaves := make([][32]byte, 0, len(members))
	for i, m := range members {
		if i > 0 && members[i-1].nullifier == m.nullifier {
			if members[i-1].state != m.state {
				return nil, &repeatError{nullifier: m.nullifier, contest: m.contest, states: [2]string{members[i-1].state, m.state}}
			}
			continue
		}
		leaves = append(leaves, m.nullifier)
		st := states[m.state]
		st.Entries++
		states[m.state] = st
	}
	return leaves, nil
}

// repeatError is a voter listed under two states, found as one nullifier
// (of contest) under both; lines are the first line listing it under each
// state, once findLines has found them (0: not known).
type repeatError struct {
	nullifier [32]byte
	contest   string
	states    [2]string
	lines     [2]int
}

func (e *repeatError) Error() string {
	const problem = "one voter listed under states %s and %s: a voter may vote in one state only; correct the roll"
	if e.lines[0] == 0 || e.lines[1] == 0 {
		return fmt.Sprintf(problem, e.states[0], e.states[1])
	}
	first, second := 0, 1
	if e.lines[1] < e.lines[0] {
		first, second = 1, 0
	}
	return fmt.Sprintf("lines %d and %d: "+problem, e.lines[first], e.lines[second], e.states[first], e.states[second])
}

// findLines reads the roll from rewind() for the first line listing e's
// voter under each of its states: one nullifier, of e's contest, per row.
// A roll it cannot read again, or ctx ending, leaves the lines unknown.
func (e *repeatError) findLines(ctx context.Context, rewind func() (io.Reader, error), keyed *ballot.Secret, electionID string) {
	r, err := rewind()
	if err != nil {
		return
	}
	var found [2]int
	errFound := errors.New("found") // stops the reading once both lines are found
	err = ReadCSV(r, func(line int, row Entry) error {
		if line%checkEvery == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		i := slices.Index(e.states[:], row.State)
		if i < 0 || found[i] != 0 || ballot.NullifierOf(keyed.VoterKey(electionID, row.VoterID, row.Credential), e.contest) != e.nullifier {
			return nil
		}
		found[i] = line
		if found[1-i] != 0 {
			return errFound
		}
		return nil
	})
	if errors.Is(err, errFound) {
		e.lines = found
	}
}

// rewinder returns, for an r that is also an io.Seeker, a function that
// seeks it back to where it is now and returns it; nil for another r, or
// one that cannot seek (a pipe).
func rewinder(r io.Reader) func() (io.Reader, error) {
	s, ok := r.(io.Seeker)
	if !ok {
		return nil
	}
	start, err := s.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil
	}
	return func() (io.Reader, error) {
		_, err := s.Seek(start, io.SeekStart)
		return r, err
	}
}

// rollEntries returns the distinct members, sorted by nullifier as distinct
// left them, as ledger roll entries.
func rollEntries(sorted []member) []ballot.RollEntry {
	entries := make([]ballot.RollEntry, 0, len(sorted))
	for i, m := range sorted {
		if i == 0 || sorted[i-1].nullifier != m.nullifier {
			entries = append(entries, ballot.RollEntry{State: m.state, Contest: m.contest, Nullifier: ballot.HashHex(m.nullifier)})
		}
	}
	return entries
}

// sizeBlooms stores each state's Bloom shape for its roll unless one is
// stored already, and records the shape in use.
func sizeBlooms(ctx context.Context, rdb redis.UniversalClient, rate float64, states map[string]State) error {
	for name, st := range states {
		want, err := bloom.ForCapacity(uint64(st.Entries), rate)
		if err != nil {
			return fmt.Errorf("Bloom filter of %s: %w", name, err)
		}
		got, err := dedup.EnsureParams(ctx, rdb, name, want)
		if err != nil {
			return err
		}
		st.Bloom = got.String()
		states[name] = st
	}
	return nil
}

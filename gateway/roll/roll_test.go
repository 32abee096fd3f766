package roll

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/gateway/bloom"
	"github.com/votechain/votechain/gateway/dedup"
	"github.com/votechain/votechain/gateway/votequeue"
	"github.com/votechain/votechain/internal/redistest"
)

var secret = []byte("0123456789abcdef-test-secret")

const electionID = "test-2026"

// contests are the test election's: every voter has a nullifier in each.
var contests = []string{"president", "prop-1"}

// counter is a Progress that counts.
type counter struct{ n int64 }

func (c *counter) Add(n int64) { c.n += n }

func generated(t *testing.T, n int, states ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	var rows counter
	if err := Generate(context.Background(), &buf, n, states, &rows); err != nil {
		t.Fatal(err)
	}
	if rows.n != int64(n) {
		t.Fatalf("Generate reported %d rows of %d", rows.n, n)
	}
	return buf.Bytes()
}

// noLedger answers the intake's exact checks: nothing is on the ledger yet.
type noLedger struct{}

func (noLedger) NullifierUsed(context.Context, string, string) (bool, error) { return false, nil }

// TestGenerateCredentialsAreFresh: credentials are 128 random bits, never
// repeated within a roll or across two generations of the same roll.
func TestGenerateCredentialsAreFresh(t *testing.T) {
	a, b := generated(t, 100, "CA", "NY"), generated(t, 100, "CA", "NY")
	rows, err := csv.NewReader(bytes.NewReader(a)).ReadAll()
	if err != nil || len(rows) != 101 || !slices.Equal(rows[0], Header()) || rows[1][0] != VoterID(0) || rows[2][2] != "NY" {
		t.Fatalf("rows %v, %v", rows[:3], err)
	}
	again, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil || len(again) != len(rows) {
		t.Fatalf("second roll: %d rows, %v", len(again), err)
	}
	seen := map[string]bool{}
	for i, r := range append(rows[1:], again[1:]...) {
		cred, err := hex.DecodeString(r[1])
		if err != nil || len(cred) != CredentialBytes || CredentialBytes*8 < 128 {
			t.Fatalf("row %d: credential %q (%v)", i, r[1], err)
		}
		if seen[r[1]] {
			t.Fatalf("row %d: credential %s repeated", i, r[1])
		}
		seen[r[1]] = true
	}
}

func TestLoadIntoRedis(t *testing.T) {
	const n = 3000
	data := generated(t, n, "CA", "NY", "TX")
	srv := redistest.Start(t)
	rdb := srv.Client()
	ctx := context.Background()
	var rows, enrolled counter
	sum, err := Load(ctx, bytes.NewReader(data), secret, Options{ElectionID: electionID, Contests: contests, Redis: rdb, FalsePositiveRate: 0.001, Batch: 500, Progress: &rows, Enrolled: &enrolled})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Rows != n || sum.Voters != n || sum.Entries != 2*n || len(sum.States) != 3 || sum.States["CA"].Voters != n/3 || sum.States["CA"].Entries != 2*n/3 {
		t.Fatalf("summary %+v", sum)
	}
	if rows.n != n {
		t.Errorf("Load reported %d rows of %d", rows.n, n)
	}
	if enrolled.n != int64(sum.Entries) {
		t.Errorf("Load reported %d entries written into Redis of %d", enrolled.n, sum.Entries)
	}
	// The root is the Merkle root of the sorted nullifiers, one per voter
	// and contest, computed here independently.
	var leaves [][32]byte
	if err := ReadCSV(bytes.NewReader(data), func(_ int, e Entry) error {
		for _, c := range contests {
			leaves = append(leaves, ballot.NullifierOf(ballot.VoterKey(secret, electionID, e.VoterID, e.Credential), c))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(leaves, func(a, b [32]byte) int { return bytes.Compare(a[:], b[:]) })
	if want := ballot.HashHex(ballot.MerkleRoot(leaves)); sum.Root != want {
		t.Fatalf("root %s; want %s", sum.Root, want)
	}
	for st, info := range sum.States {
		r, ok, err := votequeue.GetRoll(ctx, rdb, st)
		if !ok || err != nil || r.Bits() != votequeue.RollBits(uint64(info.Entries)) {
			t.Fatalf("roll layout of %s: %v, %v; want %d bits", st, ok, err, votequeue.RollBits(uint64(info.Entries)))
		}
		if got, err := votequeue.RollSize(ctx, rdb, r); err != nil || got != int64(info.Entries) {
			t.Errorf("roll of %s holds %d, %v; want %d", st, got, err, info.Entries)
		}
		want, _ := bloom.ForCapacity(uint64(info.Entries), 0.001)
		if info.Bloom != want.String() || rdb.Get(ctx, votequeue.BloomParamsKey(st)).Val() != want.String() {
			t.Errorf("Bloom shape of %s: %q; want %s", st, info.Bloom, want)
		}
	}
	// Loading again changes nothing.
	again, err := Load(ctx, bytes.NewReader(data), secret, Options{ElectionID: electionID, Contests: contests, Redis: rdb, FalsePositiveRate: 0.01})
	if err != nil || again.Root != sum.Root || again.States["CA"].Bloom != sum.States["CA"].Bloom {
		t.Fatalf("reload: %+v, %v", again, err)
	}

	// The gateway's intake accepts a loaded voter in their own state only,
	// once in each contest.
	d := dedup.New(rdb, noLedger{}, dedup.Config{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer d.Close()
	var first Entry
	_ = ReadCSV(bytes.NewReader(data), func(line int, e Entry) error {
		if line == 2 {
			first = e
		}
		return nil
	})
	for _, c := range []struct {
		state, contest string
		want           dedup.Outcome
	}{
		{"NY", "president", dedup.NotEligible},
		{first.State, "president", dedup.Accepted},
		{first.State, "prop-1", dedup.Accepted},
		{first.State, "president", dedup.Duplicate},
	} {
		id, _ := ballot.NewVoteID()
		n := first.Nullifier(secret, electionID, c.contest)
		res, err := d.Accept(ctx, dedup.Attempt{Vote: ballot.Vote{ID: id, State: c.state, Nullifier: ballot.HashHex(n), Contest: c.contest, Choice: "yes", CastAt: time.Now().UnixMilli()}})
		if err != nil || res.Outcome != c.want {
			t.Errorf("voter %s in %s, contest %s: %+v, %v; want %v", first.VoterID, c.state, c.contest, res, err, c.want)
		}
	}
}

func TestLoadRefusesBadRolls(t *testing.T) {
	for name, data := range map[string]string{
		"two states":    "v1,c1,CA\nv1,c1,NY\n",
		"bad state":     "v1,c1,california\n",
		"empty voter":   ",c1,CA\n",
		"short row":     "v1,c1\n",
		"unquoted mess": "v1,\"c1,CA\n",
		"no voters":     strings.Join(Header(), ",") + "\n",
		"empty file":    "",
	} {
		if _, err := Load(context.Background(), strings.NewReader(data), secret, Options{ElectionID: electionID, Contests: contests}); err == nil {
			t.Errorf("%s: loaded", name)
		}
	}
	// A state the election does not hold is refused, naming the line.
	_, err := Load(context.Background(), strings.NewReader("v1,c1,CA\nv2,c2,TX\n"), secret, Options{ElectionID: electionID, Contests: contests, States: []string{"CA", "NY"}})
	if err == nil || !strings.Contains(err.Error(), `line 2: state "TX" is not one of the election's states (CA,NY)`) {
		t.Errorf("a row of another state: %v", err)
	}
	// The same row twice is one voter.
	sum, err := Load(context.Background(), strings.NewReader("v1,c1,CA\nv1,c1,CA\n"), secret, Options{ElectionID: electionID, Contests: contests, States: []string{"CA"}})
	if err != nil || sum.Voters != 1 || sum.Entries != 2 || sum.Rows != 2 {
		t.Fatalf("repeated row: %+v, %v", sum, err)
	}
}

// TestLoadNamesTheLinesOfAVoterListedTwice: a voter under two states is
// refused naming both states with the first line listing it under each,
// in line order, found by reading a file again from where Load began (the
// voter listed a third time, and rows before Load's start, change
// nothing); a roll that cannot be read again is refused naming the states.
func TestLoadNamesTheLinesOfAVoterListedTwice(t *testing.T) {
	const skipped = "not,the,roll\n"
	rows := skipped + strings.Join(Header(), ",") + "\nv1,c1,NY\nv2,c2,CA\nv3,c3,CA\nv1,c1,NY\nv1,c1,CA\n"
	f := csvFile(t, rows)
	if _, err := f.Seek(int64(len(skipped)), io.SeekStart); err != nil {
		t.Fatal(err)
	}
	opts := Options{ElectionID: electionID, Contests: contests}
	const want = "lines 2 and 6: one voter listed under states NY and CA: a voter may vote in one state only"
	if _, err := Load(context.Background(), f, secret, opts); err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("a file listing v1 under NY then CA: %v; want an error beginning %q", err, want)
	}
	unseekable := struct{ io.Reader }{strings.NewReader(strings.TrimPrefix(rows, skipped))}
	_, err := Load(context.Background(), unseekable, secret, opts)
	if err == nil || strings.Contains(err.Error(), "line") || !strings.Contains(err.Error(), "one voter listed under states") {
		t.Errorf("a stream listing v1 under NY then CA: %v; want the states named, no lines", err)
	}
	// Lines are the file's as an editor numbers them: a blank line counts.
	blank := strings.Join(Header(), ",") + "\nv1,c1,NY\nv2,c2,CA\n\nv3,c3,CA\nv1,c1,CA\n"
	g := csvFile(t, blank)
	const wantBlank = "lines 2 and 6: one voter listed under states NY and CA"
	if _, err := Load(context.Background(), g, secret, opts); err == nil || !strings.HasPrefix(err.Error(), wantBlank) {
		t.Errorf("a file with a blank line listing v1 under NY then CA: %v; want an error beginning %q", err, wantBlank)
	}
}

// csvFile is a file in a test folder holding rows, open for reading; the
// test closes it.
func csvFile(t *testing.T, rows string) *os.File {
	t.Helper()
	path := filepath.Join(t.TempDir(), "voters.csv")
	if err := os.WriteFile(path, []byte(rows), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// TestLoadEntries: the roll's ledger entries are its distinct voters' per
// contest nullifiers with their states and contests, sorted, and as chunks
// they seal against the roll root.
func TestLoadEntries(t *testing.T) {
	data := generated(t, 50, "CA", "NY")
	first := strings.SplitN(string(data), "\n", 3)[1]
	data = append(data, first+"\n"...) // a repeated row
	sum, err := Load(context.Background(), bytes.NewReader(data), secret, Options{ElectionID: electionID, Contests: contests, Entries: true})
	if err != nil {
		t.Fatal(err)
	}
	sorted := slices.IsSortedFunc(sum.Roll, func(a, b ballot.RollEntry) int { return strings.Compare(a.Nullifier, b.Nullifier) })
	if len(sum.Roll) != 100 || sum.Entries != 100 || !sorted {
		t.Fatalf("%d entries, sorted %v", len(sum.Roll), sorted)
	}
	want := map[ballot.RollEntry]bool{}
	ReadCSV(bytes.NewReader(data), func(_ int, e Entry) error {
		for _, c := range contests {
			want[ballot.RollEntry{State: e.State, Contest: c, Nullifier: ballot.HashHex(e.Nullifier(secret, electionID, c))}] = true
		}
		return nil
	})
	for _, e := range sum.Roll {
		if !want[e] {
			t.Fatalf("entry %+v is not a voter of the roll", e)
		}
	}
	var recs []ballot.RollChunkRecord
	for _, c := range ballot.ChunkRoll(sum.Roll) {
		r, err := c.Check()
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	if _, err := ballot.SealRoll(sum.Root, &sum.Entries, recs); err != nil { // the root and size an election record states
		t.Fatal(err)
	}
}

// TestLoadNeedsTheElection: nullifiers are bound to an election and its
// contests, so a roll cannot be loaded without them, and another election's
// roll root differs.
func TestLoadNeedsTheElection(t *testing.T) {
	data := generated(t, 10, "CA")
	if _, err := Load(context.Background(), bytes.NewReader(data), secret, Options{Contests: contests}); err == nil {
		t.Fatal("a roll was loaded without an election id")
	}
	if _, err := Load(context.Background(), bytes.NewReader(data), secret, Options{ElectionID: electionID}); err == nil {
		t.Fatal("a roll was loaded without the election's contests")
	}
	a, err := Load(context.Background(), bytes.NewReader(data), secret, Options{ElectionID: electionID, Contests: contests})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Load(context.Background(), bytes.NewReader(data), secret, Options{ElectionID: "another-2026", Contests: contests})
	if err != nil {
		t.Fatal(err)
	}
	if a.Root == b.Root {
		t.Fatal("the same roll gave the same root for two elections")
	}
}

// cancelAt is a Progress that cancels a context once it has been told of
// at least n units: an interruption mid-run, at a known point.
type cancelAt struct {
	n, done int64
	cancel  context.CancelFunc
}

func (c *cancelAt) Add(n int64) {
	if c.done += n; c.done >= c.n {
		c.cancel()
	}
}

// lineCounter is a writer that keeps nothing and counts the lines written.
type lineCounter struct{ lines int }

func (w *lineCounter) Write(p []byte) (int, error) {
	w.lines += bytes.Count(p, []byte("\n"))
	return len(p), nil
}

// TestGenerateStopsWhenCancelled: a roll of 2^40 voters (days of writing)
// stops within a few thousand rows of its context ending, with an error
// that wraps the context's and counts the voters written, all of which w
// holds; it ran on until killed.
func TestGenerateStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var w lineCounter
	done := make(chan error, 1)
	go func() { done <- Generate(ctx, &w, 1<<40, []string{"CA"}, &cancelAt{n: 2000, cancel: cancel}) }()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "stopped with 2048 of 1099511627776 voters written") {
			t.Fatalf("Generate: %v; want it stopped, counting 2048 voters written", err)
		}
		if w.lines != 1+2048 {
			t.Errorf("w holds %d lines; want the header and 2048 voters", w.lines)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Generate still running 10 s after its context was cancelled")
	}
}

// TestLoadStopsWhenCancelled: a load whose context ends while it reads the
// roll stops within checkEvery rows, saying how far it got, and one that
// ends while it writes into Redis stops before the next batch, saying how
// much is in Redis and that loading again finishes it, which it does. Both
// ran to the end.
func TestLoadStopsWhenCancelled(t *testing.T) {
	const n = 3000
	data := generated(t, n, "CA", "NY")
	ctx, cancel := context.WithCancel(context.Background())
	_, err := Load(ctx, bytes.NewReader(data), secret, Options{ElectionID: electionID, Contests: contests, Progress: &cancelAt{n: 1500, cancel: cancel}})
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "stopped after reading 2048 rows") {
		t.Fatalf("cancelled while reading: %v; want stopped after 2048 rows", err)
	}

	rdb := redistest.Start(t).Client()
	ctx, cancel = context.WithCancel(context.Background())
	opts := Options{ElectionID: electionID, Contests: contests, Redis: rdb, FalsePositiveRate: 0.001, Batch: 500}
	opts.Enrolled = &cancelAt{n: 1, cancel: cancel}
	_, err = Load(ctx, bytes.NewReader(data), secret, opts)
	for _, want := range []string{"stopped with at least 500 of the roll's 6000 entries written into Redis", "loading the roll again finishes it"} {
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), want) {
			t.Fatalf("cancelled while writing into Redis: %v; want %q", err, want)
		}
	}
	if in := rollSizes(t, rdb, "CA", "NY"); in != 500 {
		t.Errorf("Redis holds %d roll entries after the first batch; want 500", in)
	}
	opts.Enrolled = nil
	sum, err := Load(context.Background(), bytes.NewReader(data), secret, opts)
	if err != nil || sum.Entries != 2*n {
		t.Fatalf("loading again: %+v, %v", sum, err)
	}
	if in := rollSizes(t, rdb, "CA", "NY"); in != 2*n {
		t.Errorf("Redis holds %d roll entries after loading again; want %d", in, 2*n)
	}
}

// rollSizes is the number of entries on the states' rolls in Redis.
func rollSizes(t *testing.T, rdb redis.Cmdable, states ...string) (total int64) {
	t.Helper()
	for _, st := range states {
		r, ok, err := votequeue.GetRoll(context.Background(), rdb, st)
		if err != nil || !ok {
			t.Fatalf("roll of %s: %v, %v", st, ok, err)
		}
		n, err := votequeue.RollSize(context.Background(), rdb, r)
		if err != nil {
			t.Fatal(err)
		}
		total += n
	}
	return total
}

// TestCSVErrorsSayTheForm: a row of the wrong form is refused naming its
// line and the form a row takes (the columns, the header), with no prefix
// of the package's; a nullifier file's also names the file. The CSV
// reader's own "record on line 1: wrong number of fields" named neither.
func TestCSVErrorsSayTheForm(t *testing.T) {
	for _, c := range []struct{ data, want string }{
		{"voter,credential\nv1,c1\n", "line 1: want 3 fields, voter_id,credential,state (the first line may be that header), got 2"},
		{"voter_id,credential,state\nv1,c1,CA,extra\n", "line 2: want 3 fields"},
		{"id,cred,state\nv1,c1,CA\n", `line 1: invalid state "state" (a state code is 2..8 characters of [A-Z0-9]); a header, if the file has one, must be voter_id,credential,state`},
		{"v1,c1,CA\nv2,c\"2,NY\n", `line 2, column 5: not CSV: bare " in non-quoted-field`},
	} {
		err := ReadCSV(strings.NewReader(c.data), func(int, Entry) error { return nil })
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%q: %v; want an error beginning %q", c.data, err, c.want)
		}
	}
	path := filepath.Join(t.TempDir(), "nullifiers.csv")
	if err := os.WriteFile(path, []byte("state,nullifier\nCA\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := NullifierFile{Path: path}.Nullifiers(context.Background(), "CA", func(string) error { return nil })
	if want := path + " line 2: want 2 fields, state,nullifier"; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("short nullifier row: %v; want an error beginning %q", err, want)
	}
}

// A caller's change to Header's slice neither shows in the next call nor
// makes ReadCSV take the real header row for a voter.
func TestHeaderIsANewSliceEachCall(t *testing.T) {
	header := Header()
	header[0] = "changed"
	if again := strings.Join(Header(), ","); again != "voter_id,credential,state" {
		t.Errorf("a caller's change to Header's slice shows in the next call: %s", again)
	}
	var voters []string
	err := ReadCSV(strings.NewReader("voter_id,credential,state\nv1,c1,NY\n"), func(_ int, e Entry) error {
		voters = append(voters, e.VoterID)
		return nil
	})
	if err != nil || !slices.Equal(voters, []string{"v1"}) {
		t.Errorf("after a caller changed Header's slice, ReadCSV gave voters %q, error %v; want v1 only", voters, err)
	}
}

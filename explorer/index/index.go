// Package index is the explorer's store: an embedded SQLite database (pure
// Go, modernc.org/sqlite) of audited blocks, transactions, batches, votes,
// recounted tallies and verification issues. Blocks are saved in SQL
// transactions of one or more blocks (Writer), each with the checkpoint, so
// a restart resumes exactly after the last saved block and never stores a
// row twice.
//
// Its cost is per vote: a row in the vote ids' segments (by id hash, for
// receipts) and, if counted, in the used nullifiers' (by state and
// nullifier hash, for the duplicate rule), both pointing at the vote in its
// batch; a batch's votes are stored once, as its transaction's argument.
// And the audit's lookups, which read a whole batch's nullifiers at once:
// UsedNullifiers in the used nullifiers' segments (only for the keys a
// Bloom filter in memory cannot rule out, usedfilter.go; for the
// cross_state check, MaybeUsedAnywhere first asks a second Bloom filter, of
// nullifiers alone, built from the stored batches once a process, when
// first asked, then grown by chaining, 1.25–3.75 bytes a vote), and a Writer's
// RollContests in the roll kept in memory (rollcache.go: about 21 bytes a
// voter, 63 MB for a roll of 3,000,000, read from the roll table when the
// first Writer begins, 6–7 s of CPU at that size; up to about 15 bytes a
// voter more when this process indexed the roll), never in the table,
// whose lookups were a quarter to a third of the CPU per vote. A batch's
// vote keys are kept in memory at first, read back from batch_votes when
// the index opens, and written, sorted by key, once the votes kept so
// reach 200,000 (pending.go), as a segment of packed rows merged with the
// latest segments (segments.go): a log-structured merge of sorted runs, in
// which a row costs a copy into a chunk per merge rather than an insert at
// a random place of a b-tree that grows with the election (vote_keys and
// used_votes, until 2026-12-01: about a third of the explorer's CPU per
// vote, more the larger the index). An index written before keeps those
// tables, looked up and no longer written. BenchmarkFollowVotes in
// explorer/follow measures the whole indexing (decoding, audit, store) on a
// fresh and a grown index and, with VOTECHAIN_FOLLOW_BENCH_CACHE set, on an
// index of make bench's scale (a roll of 3,000,000 voters and 2,000,000
// votes); docs/architecture.md ("Explorer") keeps its figures.
package index

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"slices"
	"sync"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/explorer/audit"
	"github.com/votechain/votechain/network/fabricblock"
)

// Index is an open explorer database. Blocks are saved on one connection
// of their own (Begin), whose page cache therefore stays warm; the queries
// of the web pages use the others.
type Index struct {
	db    *sql.DB
	write *sql.Conn
	// history answers the audit's lookups on the committed index.
	history
	// filter is the used table's Bloom filter for the Writers' lookups,
	// built when the first begins; minFilterKeys its least size (tests).
	filter        *usedFilter
	minFilterKeys int
	// anywhere is the Writers' filter of nullifiers alone (cross_state
	// lookups, MaybeUsedAnywhere), built when one first asks (nil before),
	// then grown as batches are saved, never rebuilt.
	anywhere *anywhereFilter
	// log gets the index's notes (WithLogger; discarded without it).
	log *slog.Logger
	// election is the election record and roll seal as committed, once a
	// Writer read them.
	election electionState
	// lastSeqs are the highest seq of each state's committed batches, once
	// a Writer read them (nil before).
	lastSeqs map[string]uint64
	// pending are the vote keys of committed batches not yet written to
	// the key segments (pending.go), read back at Open; flushRows, if set,
	// the pending votes at which a commit writes them (tests).
	pending   *pendingKeys
	flushRows int
	// merges, if set, is the segments' merge policy in place of
	// defaultMergePolicy (tests, benchmarks).
	merges mergePolicy
	// committing are the pending keys of the Writer whose SQL commit is
	// under way (nil if none): published before that commit, so that a
	// reader finds a batch's votes no later than the batch, and dropped if
	// it fails. Their batches may not be visible yet: a lookup skips those.
	committing *pendingKeys
	// commitSQL, if set, commits a Writer's SQL transaction in place of
	// tx.Commit (tests: to look around the commit, or make it fail).
	commitSQL func(tx *sql.Tx) error
	// roll is the roll table for the Writers' lookups, read when the
	// first begins.
	roll *rollCache
	// prepared are the Writers' other statements, by query (prepare);
	// open is the Writer not yet ended, if any.
	mu       sync.Mutex
	prepared map[string]*sql.Stmt
	open     *Writer
}

// history answers the audit's lookups (audit.History) on the committed
// index or inside a write transaction (Writer), whose uncommitted blocks it
// then sees.
type history struct {
	q querier
	// The bulk lookups, prepared once: one per batch and state; segs reads
	// a key's chunks of the vote key segments (segmentQuery).
	used, rolled, segs *sql.Stmt
	// filter, if set (a Writer's), holds every key of used: keys it does
	// not hold are not looked up.
	filter *usedFilter
	// pendingUsed returns the places of a used nullifier key among the
	// pending keys it sees (pending.go).
	pendingUsed func(key int64) []keyPlace
	// anywhere, if set (a Writer's), returns its filter of the nullifiers
	// of the votes it sees, whatever their state, building it if need be.
	anywhere func() (*anywhereFilter, error)
}

// querier is a *sql.DB or a *sql.Tx.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

const schema = `
CREATE TABLE IF NOT EXISTS checkpoint (
	id        INTEGER PRIMARY KEY CHECK (id = 1),
	next      INTEGER NOT NULL,  -- number of the next block to index
	last_hash BLOB               -- recomputed hash of block next-1
);
CREATE TABLE IF NOT EXISTS totals (
	id       INTEGER PRIMARY KEY CHECK (id = 1),
	txs      INTEGER NOT NULL, valid_txs INTEGER NOT NULL,
	batches  INTEGER NOT NULL, votes INTEGER NOT NULL,
	counted  INTEGER NOT NULL, rejected INTEGER NOT NULL,
	issues   INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS blocks (
	number    INTEGER PRIMARY KEY,
	hash      BLOB NOT NULL,
	prev_hash BLOB NOT NULL,
	data_hash BLOB NOT NULL,
	chain_ok  INTEGER NOT NULL,  -- previous hash links to block number-1
	data_ok   INTEGER NOT NULL,  -- data hash matches the data
	time      INTEGER NOT NULL,  -- latest transaction time, Unix ms
	txs       INTEGER NOT NULL,
	size      INTEGER NOT NULL,
	counted   INTEGER NOT NULL   -- votes counted by the block's batches
);
CREATE TABLE IF NOT EXISTS txs (
	block     INTEGER NOT NULL,
	idx       INTEGER NOT NULL,
	id        TEXT NOT NULL,
	type      TEXT NOT NULL,
	creator   TEXT NOT NULL,
	time      INTEGER NOT NULL,
	code      TEXT NOT NULL,
	chaincode TEXT NOT NULL,
	function  TEXT NOT NULL,
	state     TEXT,              -- batch of a transaction carrying one batch
	seq       INTEGER,
	note      TEXT NOT NULL,     -- "resubmission", or why the envelope did not decode
	PRIMARY KEY (block, idx)
);
CREATE INDEX IF NOT EXISTS txs_id ON txs (id);
CREATE TABLE IF NOT EXISTS batches (
	state     TEXT NOT NULL,
	seq       INTEGER NOT NULL,
	block     INTEGER NOT NULL,
	tx_id     TEXT NOT NULL,
	time      INTEGER NOT NULL,
	root      TEXT NOT NULL,
	votes     INTEGER NOT NULL,
	counted   INTEGER NOT NULL,
	rejected  TEXT NOT NULL,     -- JSON array of rejected vote indices (recount)
	tallies   TEXT NOT NULL,     -- JSON object, recounted counted votes per contest and choice
	root_ok   INTEGER NOT NULL,
	record_ok INTEGER NOT NULL,
	reasons   TEXT NOT NULL DEFAULT '[]', -- JSON array, why each of rejected was rejected (ballot.Reject*)
	PRIMARY KEY (state, seq)
);
CREATE INDEX IF NOT EXISTS batches_block ON batches (block);
CREATE INDEX IF NOT EXISTS batches_time ON batches (time);
-- A batch's votes are its transaction's argument, stored once; per vote the
-- index holds only what is looked up by key: where a vote id is (receipts,
-- search) and the nullifiers counted votes used (the duplicate rule).
CREATE TABLE IF NOT EXISTS batch_votes (
	id        INTEGER PRIMARY KEY, -- numbers the batch for the vote keys
	state     TEXT NOT NULL,
	seq       INTEGER NOT NULL,
	data      BLOB NOT NULL,     -- the batch as its transaction carried it: a ballot.Batch as JSON
	UNIQUE (state, seq)
);
-- Where each vote id is, by a 64-bit hash of the id (voteKey) rather than
-- the id: an integer key compares and stores in a fraction of the id's 32
-- characters, and ids that share a hash are told apart by reading their
-- batches (Vote). Written until 2026-12-01 (now the key segments below);
-- an index written before keeps its rows here, still looked up.
CREATE TABLE IF NOT EXISTS vote_keys (
	key       INTEGER NOT NULL,  -- voteKey(id)
	batch     INTEGER NOT NULL,  -- batch_votes.id of the vote's batch
	idx       INTEGER NOT NULL,  -- the vote's index in the batch
	PRIMARY KEY (key, batch, idx)
) WITHOUT ROWID;
-- The nullifiers counted votes used, by a 64-bit hash of state and
-- nullifier (nullifierKey) and where the vote is, as vote_keys: a row of a
-- fifth of the size of one holding the nullifier, so the b-tree written at
-- a random place per vote has a fifth of the pages. Nullifiers that share
-- a hash are told apart by reading their batches (UsedNullifiers), which
-- only a duplicate (or a hash collision) needs. Written until 2026-12-01,
-- as vote_keys.
CREATE TABLE IF NOT EXISTS used_votes (
	key       INTEGER NOT NULL,  -- nullifierKey(state, nullifier) of a vote the recount counted
	batch     INTEGER NOT NULL,  -- batch_votes.id of the vote's batch
	idx       INTEGER NOT NULL,  -- the vote's index in the batch
	PRIMARY KEY (key, batch, idx)
) WITHOUT ROWID;
-- The rows of vote_keys and used_votes not yet merged into them, in an
-- index written before 2026-12-01 (vote_keys, used_votes and these are
-- looked up, no longer written).
CREATE TABLE IF NOT EXISTS vote_keys_recent (
	key INTEGER NOT NULL, batch INTEGER NOT NULL, idx INTEGER NOT NULL,
	PRIMARY KEY (key, batch, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS used_votes_recent (
	key INTEGER NOT NULL, batch INTEGER NOT NULL, idx INTEGER NOT NULL,
	PRIMARY KEY (key, batch, idx)
) WITHOUT ROWID;
-- The vote keys (vote ids by voteKey, kind 0, and the nullifiers of
-- counted votes by nullifierKey, kind 1) as sorted segments (segments.go):
-- each a list of chunks of up to 240 rows (more when they share the last
-- key), 16 bytes a row (the key, then the batch_votes id shifted left by
-- 24 bits or-ed with the vote's index, little-endian), in key order.
CREATE TABLE IF NOT EXISTS key_segments (
	id    INTEGER PRIMARY KEY,
	kind  INTEGER NOT NULL,
	rows  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS key_segments_kind ON key_segments (kind);
-- Never written: explorers before the segments refuse an index with a
-- used_keys table (their older layout's), as they must, since they would
-- not see the keys in the segments.
CREATE TABLE IF NOT EXISTS used_keys (never_written INTEGER);
CREATE TABLE IF NOT EXISTS key_chunks (
	segment INTEGER NOT NULL,  -- key_segments.id
	first   INTEGER NOT NULL,  -- the key of its first row
	rows    BLOB NOT NULL,
	PRIMARY KEY (segment, first)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tallies (
	state     TEXT NOT NULL,
	contest   TEXT NOT NULL,
	choice    TEXT NOT NULL,
	votes     INTEGER NOT NULL,
	PRIMARY KEY (state, contest, choice)
);
CREATE TABLE IF NOT EXISTS issues (
	id      INTEGER PRIMARY KEY AUTOINCREMENT,
	kind    TEXT NOT NULL,
	block   INTEGER NOT NULL,
	tx_id   TEXT NOT NULL,
	message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS issues_block ON issues (block);
CREATE TABLE IF NOT EXISTS election (
	id     INTEGER PRIMARY KEY CHECK (id = 1),
	record TEXT NOT NULL         -- JSON ballot.Election, as last written on the ledger
);
-- What the blocks did to the election record beyond its last write, for
-- the audit of later blocks: the block of the first VALID write that left
-- it finalised (status finalised, or finalised_at stamped), NULL while none
-- did, kept even if a later write took the record back. since as
-- log_since: an index written before 2026-12-06 kept it from that block
-- only (audit.ErrNotRecorded).
CREATE TABLE IF NOT EXISTS election_history (
	id        INTEGER PRIMARY KEY CHECK (id = 1),
	since     INTEGER NOT NULL,
	finalised INTEGER
);
CREATE TABLE IF NOT EXISTS roll (
	state     TEXT NOT NULL,
	nullifier TEXT NOT NULL,     -- written on the roll by a VALID LoadRoll transaction
	contest   TEXT NOT NULL,     -- the contest the nullifier may vote in
	PRIMARY KEY (state, nullifier)
) WITHOUT ROWID;
-- The roll chunk records VALID LoadRoll transactions wrote, the last of
-- each index (the ledger's state), for the audit of the seal. An index
-- written before 2026-12-04 has roll rows and none of these: its seal is
-- not recomputed (audit.ErrNotRecorded).
CREATE TABLE IF NOT EXISTS roll_chunks (
	idx    INTEGER PRIMARY KEY,
	record TEXT NOT NULL         -- JSON ballot.RollChunkRecord
);
-- The ordering service's configuration as the last config block that
-- carried one left it (JSON fabricblock.ChannelConfig), for the check of
-- the orderers' block signatures. An index written before 2026-12-04 has
-- none: its blocks' signatures are not checked (audit.ErrNotRecorded).
CREATE TABLE IF NOT EXISTS channel_config (
	id     INTEGER PRIMARY KEY CHECK (id = 1),
	record TEXT NOT NULL
);
-- The intake log's record on the ledger as the indexed blocks left it:
-- the registered keys (JSON ballot.LogKeys) and each state's anchored head
-- (JSON ballot.AnchoredHead, with the block that wrote it), for the audit
-- of later anchors and the audit page. log_since holds the block from
-- which this index kept them: an index written before 2026-12-04 kept
-- none, so its explorer does not check the log's transactions
-- (audit.ErrNotRecorded) until reindexed.
CREATE TABLE IF NOT EXISTS log_keys (
	id     INTEGER PRIMARY KEY CHECK (id = 1),
	record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS log_heads (
	state  TEXT PRIMARY KEY,
	block  INTEGER NOT NULL,
	record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS log_since (
	id    INTEGER PRIMARY KEY CHECK (id = 1),
	block INTEGER NOT NULL
);
-- Each chaincode's endorsement policy as its last definition the indexed
-- blocks committed (JSON fabricblock.EndorsementPolicy), for the check of
-- the endorsements; policies_since as log_since: an index written before
-- 2026-12-04 kept none (audit.ErrNotRecorded).
CREATE TABLE IF NOT EXISTS chaincode_policies (
	chaincode TEXT PRIMARY KEY,
	block     INTEGER NOT NULL,
	record    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS policies_since (
	id    INTEGER PRIMARY KEY CHECK (id = 1),
	block INTEGER NOT NULL
);
-- The organisations' lifecycle approvals (the hashed writes to their
-- implicit collections, audit.Approvals: the last of each key), for the
-- check of commits of chaincode definitions; approvals_since as
-- log_since: an index written before 2026-12-04 kept none.
CREATE TABLE IF NOT EXISTS lifecycle_approvals (
	org        TEXT NOT NULL,
	key_hash   TEXT NOT NULL,
	value_hash BLOB,             -- NULL for a delete
	block      INTEGER NOT NULL,
	PRIMARY KEY (org, key_hash)
);
CREATE TABLE IF NOT EXISTS approvals_since (
	id    INTEGER PRIMARY KEY CHECK (id = 1),
	block INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS roll_seal (
	id    INTEGER PRIMARY KEY CHECK (id = 1),
	block INTEGER NOT NULL       -- block of the VALID SealRoll transaction
);
-- The highest batch_votes id whose votes' keys are in the key segments
-- (or, written before, vote_keys and used_votes); the keys of the batches after it are
-- kept in memory and read back from batch_votes at start (pending.go). An
-- index made before has every key in vote_keys and used_votes.
CREATE TABLE IF NOT EXISTS keys_flushed (
	id    INTEGER PRIMARY KEY CHECK (id = 1),
	batch INTEGER NOT NULL
);
INSERT OR IGNORE INTO keys_flushed SELECT 1, COALESCE(MAX(id), 0) FROM batch_votes;
INSERT OR IGNORE INTO checkpoint (id, next) VALUES (1, 0);
INSERT OR IGNORE INTO log_since SELECT 1, next FROM checkpoint;
INSERT OR IGNORE INTO policies_since SELECT 1, next FROM checkpoint;
INSERT OR IGNORE INTO approvals_since SELECT 1, next FROM checkpoint;
INSERT OR IGNORE INTO election_history (id, since) SELECT 1, next FROM checkpoint;
INSERT OR IGNORE INTO totals VALUES (1, 0, 0, 0, 0, 0, 0, 0);
`

// The connections' settings. The index is derived data that `explorer
// reindex` rebuilds from the ledger, so it trades the last moments of
// durability for CPU: WAL with synchronous=NORMAL (a power loss may undo the
// latest commits, never corrupt the file; the checkpoint then says where to
// resume), checkpoints every 8,000 pages (32 MB) rather than 1,000, and reads
// through a memory map rather than a read call per page.
const pragmas = "?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(ON)" +
	"&_pragma=mmap_size(4294967296)&_pragma=wal_autocheckpoint(8000)"

// writeCacheKiB is the page cache of the connection that saves blocks (the
// readers' stay at SQLite's 2 MB): the upper levels of the vote indexes,
// which every vote's insert and lookup walks, stay in it.
const writeCacheKiB = 64 << 10

// layoutVersion is the index's layout, kept in SQLite's user_version: 1
// since the vote keys became segments (2026-12-01; before, 0), 2 since the
// election's history (election_history, 2026-12-06: an explorer of layout
// 1 would save blocks without it, so a finalise they hold would be missed).
// An index of an earlier layout this code reads is marked with it on open;
// one of a later layout is refused rather than read wrongly.
const layoutVersion = 2

// checkLayout refuses an index this code cannot read, before the schema is
// created in it: one made before the votes were stored per batch (or
// before contests, ledger model v2) has a votes table, one made before
// vote ids and nullifiers were keyed by hash a vote_ids or used table, one
// made before the used nullifiers pointed at their votes a used_keys table
// without key_segments beside it (this layout creates an empty used_keys
// so that explorers before the segments, which would miss every key in
// them, refuse it), one made by a later explorer a higher user_version.
func checkLayout(db *sql.DB, path string) error {
	tables := map[string]bool{}
	rows, err := db.Query(`SELECT name FROM sqlite_master WHERE type = 'table'`)
	if err != nil {
		return fmt.Errorf("read index schema of %s: %w", path, err)
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return fmt.Errorf("read index schema of %s: %w", path, err)
		}
		tables[name] = true
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fmt.Errorf("read index schema of %s: %w", path, err)
	}
	if tables["votes"] || tables["vote_ids"] || tables["used"] || tables["used_keys"] && !tables["key_segments"] {
		return fmt.Errorf("index %s stores votes in an older layout: remove it, or run `explorer reindex`, to index the ledger afresh", path)
	}
	var version int
	if err := db.QueryRow(`PRAGMA user_version`).Scan(&version); err != nil {
		return fmt.Errorf("read index version of %s: %w", path, err)
	}
	if version > layoutVersion {
		return fmt.Errorf("index %s was written by a later explorer (layout %d; this one reads up to %d): use that explorer, or run `explorer reindex` to index the ledger afresh with this one", path, version, layoutVersion)
	}
	return nil
}

// Option configures Open.
type Option func(*Index)

// WithLogger makes log get the index's notes (the one-time builds of its
// filters); without it, or with a nil log, they are discarded.
func WithLogger(log *slog.Logger) Option {
	return func(x *Index) {
		if log != nil {
			x.log = log
		}
	}
}

// Open opens (creating if needed) the database at path, configured by opts.
func Open(path string, opts ...Option) (*Index, error) {
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + pragmas
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open index %s: %w", path, err)
	}
	if err := checkLayout(db, path); err != nil {
		db.Close()
		return nil, err
	}
	if _, err := db.Exec(schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("create index schema in %s: %w", path, err)
	}
	if _, err := db.Exec(fmt.Sprintf(`PRAGMA user_version = %d`, layoutVersion)); err != nil {
		db.Close()
		return nil, fmt.Errorf("mark index %s: %w", path, err)
	}
	// An index made before rejection reasons were recorded gains the column;
	// `explorer reindex` fills it.
	var hasReasons bool
	if err := db.QueryRow(`SELECT COUNT(*) > 0 FROM pragma_table_info('batches') WHERE name = 'reasons'`).Scan(&hasReasons); err == nil && !hasReasons {
		_, err = db.Exec(`ALTER TABLE batches ADD COLUMN reasons TEXT NOT NULL DEFAULT '[]'`)
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("add rejection reasons to index %s: %w", path, err)
		}
	}
	x := &Index{db: db, log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(x)
	}
	x.history.q = db
	x.history.pendingUsed = func(key int64) []keyPlace { return x.committedPlaces(pendingUsed, key) }
	if x.pending, err = pendingFromBatches(context.Background(), db); err != nil {
		db.Close()
		return nil, fmt.Errorf("open index %s: %w", path, err)
	}
	if x.used, err = db.Prepare(usedQuery); err == nil {
		if x.rolled, err = db.Prepare(rolledQuery); err == nil {
			if x.segs, err = db.Prepare(segmentQuery); err == nil {
				x.write, err = db.Conn(context.Background())
			}
		}
	}
	if err == nil {
		_, err = x.write.ExecContext(context.Background(), fmt.Sprintf("PRAGMA cache_size = -%d", writeCacheKiB))
	}
	if err != nil {
		x.Close()
		return nil, fmt.Errorf("prepare index writes and lookups in %s: %w", path, err)
	}
	return x, nil
}

// Close closes the database, first rolling back a Writer left open (the
// write connection would otherwise wait for it forever), then writing the
// pending vote keys as a segment (pending.go, segments.go).
func (x *Index) Close() error {
	x.mu.Lock()
	w := x.open
	x.mu.Unlock()
	if w != nil {
		w.Rollback()
	}
	var flushErr error
	if x.write != nil {
		flushErr = x.Flush(context.Background())
	}
	for _, s := range []*sql.Stmt{x.used, x.rolled, x.segs} {
		if s != nil {
			s.Close()
		}
	}
	x.mu.Lock()
	for _, s := range x.prepared {
		s.Close()
	}
	x.mu.Unlock()
	if x.write != nil {
		x.write.Close()
	}
	return errors.Join(flushErr, x.db.Close())
}

// Checkpoint returns the number of the next block to index and the
// recomputed hash of the block before it (nil when next is 0).
func (x *Index) Checkpoint(ctx context.Context) (next uint64, lastHash []byte, err error) {
	err = x.db.QueryRowContext(ctx, `SELECT next, last_hash FROM checkpoint WHERE id = 1`).Scan(&next, &lastHash)
	if err != nil {
		return 0, nil, fmt.Errorf("read checkpoint: %w", err)
	}
	return next, lastHash, nil
}

// NullifierUsed reports whether a counted vote of state used nullifier.
func (x history) NullifierUsed(state, nullifier string) (bool, error) {
	k := audit.Nullifier{State: state, Nullifier: nullifier}
	used, err := x.UsedNullifiers([]audit.Nullifier{k})
	return used[k], err
}

// MaybeUsedAnywhere implements audit.History: on a Writer, those of
// nullifiers its filter of nullifiers alone may hold (every one of a
// stored vote, and under 1% of the others for each of the filter's stages,
// anywhereFilter), with no query once the filter is built
// (newAnywhereFilter, once a process); known is false on the committed
// index, which keeps no such filter.
func (x history) MaybeUsedAnywhere(nullifiers []string) (map[string]bool, bool, error) {
	if x.anywhere == nil {
		return nil, false, nil
	}
	f, err := x.anywhere()
	if err != nil {
		return nil, false, err
	}
	out := map[string]bool{}
	for _, n := range nullifiers {
		if f.mayHold(n) {
			out[n] = true
		}
	}
	return out, true, nil
}

// The bulk lookups of the audit: for usedQuery ?1 a JSON array of
// nullifierKeys, for rolledQuery ?1 a state and ?2 a JSON array of its
// nullifiers (the keys of used_votes, used_votes_recent and roll serve
// them; used_votes and its recent table are an index's written before the
// key segments, whose rows UsedNullifiers reads with segmentQuery).
const (
	usedQuery = `SELECT u.key, u.batch, u.idx FROM json_each(?1) j JOIN used_votes u ON u.key = j.value
		UNION ALL SELECT u.key, u.batch, u.idx FROM json_each(?1) j JOIN used_votes_recent u ON u.key = j.value`
	rolledQuery = `SELECT nullifier, contest FROM roll WHERE state = ?1 AND nullifier IN (SELECT value FROM json_each(?2))`
)

// UsedNullifiers implements audit.History: those of keys a counted vote
// used, with one query for the keys the filter may hold, and the batch of
// each vote found read to tell its nullifier from others of the same hash.
func (x history) UsedNullifiers(keys []audit.Nullifier) (map[audit.Nullifier]bool, error) {
	out := map[audit.Nullifier]bool{}
	wanted := map[int64][]audit.Nullifier{}
	for _, k := range keys {
		if x.filter == nil || x.filter.mayHold(k) {
			key := nullifierKey(k.State, k.Nullifier)
			wanted[key] = append(wanted[key], k)
		}
	}
	if len(wanted) == 0 {
		return out, nil
	}
	type place struct {
		key, batch, idx int64
		pending         bool
	}
	var found []place
	if x.pendingUsed != nil {
		for key := range wanted {
			for _, p := range x.pendingUsed(key) {
				found = append(found, place{key, p.batch, int64(p.idx), true})
			}
		}
	}
	var places []keyPlace
	for key := range wanted {
		var err error
		if places, err = segmentPlaces(context.Background(), x.segs, segmentUsed, key, places[:0]); err != nil {
			return nil, fmt.Errorf("index lookup: %w", err)
		}
		for _, p := range places {
			found = append(found, place{key, p.batch, int64(p.idx), false})
		}
	}
	rows, err := x.used.Query(jsonText(slices.Sorted(maps.Keys(wanted)))) // in key order: the lookups walk the b-tree forward
	if err != nil {
		return nil, fmt.Errorf("index lookup: %w", err)
	}
	for rows.Next() {
		var p place
		if err := rows.Scan(&p.key, &p.batch, &p.idx); err != nil {
			rows.Close()
			return nil, fmt.Errorf("index lookup: %w", err)
		}
		found = append(found, p)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("index lookup: %w", err)
	}
	batches := map[int64][]ballot.Vote{}
	invisible := map[int64]bool{}
	for _, p := range found {
		if invisible[p.batch] {
			continue
		}
		votes, ok := batches[p.batch]
		if !ok {
			if votes, err = x.storedVotes(p.batch); p.pending && errors.Is(err, sql.ErrNoRows) {
				invisible[p.batch] = true // a committing Writer's, not committed yet (committedPlaces)
				continue
			}
			if err != nil {
				return nil, err
			}
			batches[p.batch] = votes
		}
		if p.idx < 0 || p.idx >= int64(len(votes)) {
			if p.pending { // a failed commit's place, its batch number taken since
				continue
			}
			return nil, fmt.Errorf("index lookup: stored batch %d has no vote %d", p.batch, p.idx)
		}
		v := votes[p.idx]
		k := audit.Nullifier{State: v.State, Nullifier: v.Nullifier}
		if slices.Contains(wanted[p.key], k) { // not another nullifier of the same hash

			out[k] = true
		}
	}
	return out, nil
}

// storedVotes returns the votes of the batch numbered id in batch_votes,
// an error wrapping sql.ErrNoRows if there is none.
func (x history) storedVotes(id int64) ([]ballot.Vote, error) {
	var data []byte
	if err := x.q.QueryRowContext(context.Background(), `SELECT data FROM batch_votes WHERE id = ?`, id).Scan(&data); err != nil {
		return nil, fmt.Errorf("index lookup: read stored batch %d: %w", id, err)
	}
	b, err := decodeStoredBatch(id, data)
	if err != nil {
		return nil, fmt.Errorf("index lookup: %w", err)
	}
	return b.Votes, nil
}

// RollContests implements audit.History: the contest of each of keys on
// the indexed roll, with one query per state.
func (x history) RollContests(keys []audit.Nullifier) (map[audit.Nullifier]string, error) {
	out := map[audit.Nullifier]string{}
	err := lookupByState(x.rolled, keys, func(r *sql.Rows, state string) error {
		var n, contest string
		if err := r.Scan(&n, &contest); err != nil {
			return err
		}
		out[audit.Nullifier{State: state, Nullifier: n}] = contest
		return nil
	})
	return out, err
}

// lookupByState runs stmt (rolledQuery) once for each state of keys with
// the JSON array of that state's nullifiers, and scan on every row.
func lookupByState(stmt *sql.Stmt, keys []audit.Nullifier, scan func(r *sql.Rows, state string) error) error {
	byState := map[string][]string{}
	for _, k := range keys {
		byState[k.State] = append(byState[k.State], k.Nullifier)
	}
	for state, nullifiers := range byState {
		rows, err := stmt.Query(state, jsonText(nullifiers))
		if err != nil {
			return fmt.Errorf("index lookup: %w", err)
		}
		for rows.Next() {
			if err := scan(rows, state); err != nil {
				rows.Close()
				return fmt.Errorf("index lookup: %w", err)
			}
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return fmt.Errorf("index lookup: %w", err)
		}
	}
	return nil
}

// Election returns the election record as last indexed, or nil if no
// indexed block wrote one.
func (x history) Election() (*ballot.Election, error) {
	var record string
	err := x.q.QueryRowContext(context.Background(), `SELECT record FROM election WHERE id = 1`).Scan(&record)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read indexed election: %w", err)
	}
	var e ballot.Election
	if err := json.Unmarshal([]byte(record), &e); err != nil {
		return nil, fmt.Errorf("decode indexed election: %w", err)
	}
	return &e, nil
}

// ElectionFinalised implements audit.History: whether an indexed block
// wrote the election record finalised; audit.ErrNotRecorded if it saw no
// finalise and kept the election's writes from a block after 0 (an index
// written before 2026-12-06).
func (x history) ElectionFinalised() (bool, error) {
	var since uint64
	var finalised sql.NullInt64
	err := x.q.QueryRowContext(context.Background(), `SELECT since, finalised FROM election_history WHERE id = 1`).Scan(&since, &finalised)
	switch {
	case err != nil:
		return false, fmt.Errorf("index lookup: %w", err)
	case finalised.Valid: // a finalise it saw stands, whenever it began keeping
		return true, nil
	case since > 0:
		return false, fmt.Errorf("election history of an index written before 2026-12-06 (kept from block %d): %w", since, audit.ErrNotRecorded)
	}
	return false, nil
}

// OnRoll reports whether an indexed LoadRoll transaction wrote nullifier on
// the roll of state and contest.
func (x history) OnRoll(state, contest, nullifier string) (bool, error) {
	return x.exists(`SELECT 1 FROM roll WHERE state = ? AND nullifier = ? AND contest = ?`, state, nullifier, contest)
}

// ChannelConfig implements audit.History: the ordering service's
// configuration as of the last block indexed; audit.ErrNotRecorded if the
// index holds blocks and no configuration.
func (x history) ChannelConfig() (*fabricblock.ChannelConfig, error) {
	var raw string
	err := x.q.QueryRowContext(context.Background(), `SELECT record FROM channel_config WHERE id = 1`).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("orderer configuration of an index written before 2026-12-04, or of a chain without one: %w", audit.ErrNotRecorded)
	}
	if err != nil {
		return nil, fmt.Errorf("index lookup: %w", err)
	}
	var cfg fabricblock.ChannelConfig
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		return nil, fmt.Errorf("index: orderer configuration: %w", err)
	}
	return &cfg, nil
}

// RollChunks implements audit.History: the roll chunk records indexed, in
// index order; audit.ErrNotRecorded if the index holds roll entries and no
// chunk records (written before it kept them).
func (x history) RollChunks() ([]ballot.RollChunkRecord, error) {
	rows, err := x.q.QueryContext(context.Background(), `SELECT record FROM roll_chunks ORDER BY idx`)
	if err != nil {
		return nil, fmt.Errorf("index lookup: %w", err)
	}
	defer rows.Close()
	var chunks []ballot.RollChunkRecord
	for rows.Next() {
		var raw string
		if err := rows.Scan(&raw); err != nil {
			return nil, fmt.Errorf("index lookup: %w", err)
		}
		var c ballot.RollChunkRecord
		if err := json.Unmarshal([]byte(raw), &c); err != nil {
			return nil, fmt.Errorf("index: roll chunk record: %w", err)
		}
		chunks = append(chunks, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("index lookup: %w", err)
	}
	if len(chunks) == 0 {
		if rolled, err := x.exists(`SELECT 1 FROM roll LIMIT 1`); err != nil || rolled {
			return nil, cmp.Or(err, fmt.Errorf("roll chunks of an index written before 2026-12-04: %w", audit.ErrNotRecorded))
		}
	}
	return chunks, nil
}

// IntakeLog implements audit.History: the intake log's keys and anchored
// heads as the indexed blocks left them; audit.ErrNotRecorded if the index
// holds blocks indexed before it kept them.
func (x history) IntakeLog() (audit.IntakeLog, error) {
	log := audit.IntakeLog{Keys: ballot.LogKeys{Keys: []ballot.LogKey{}}, Heads: map[string]ballot.AnchoredHead{}}
	if err := x.keptSince("log_since", "intake log record"); err != nil {
		return log, err
	}
	var raw string
	err := x.q.QueryRowContext(context.Background(), `SELECT record FROM log_keys WHERE id = 1`).Scan(&raw)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return log, fmt.Errorf("index lookup: %w", err)
	default:
		if err := json.Unmarshal([]byte(raw), &log.Keys); err != nil {
			return log, fmt.Errorf("index: log keys record: %w", err)
		}
	}
	heads, err := x.logHeads()
	for _, h := range heads {
		log.Heads[h.Head.State] = h.AnchoredHead
	}
	return log, err
}

// Policies implements audit.History: each chaincode's endorsement policy
// as its last indexed definition states it; audit.ErrNotRecorded if the
// index holds blocks indexed before it kept them.
func (x history) Policies() (map[string]fabricblock.EndorsementPolicy, error) {
	if err := x.keptSince("policies_since", "chaincode policies"); err != nil {
		return nil, err
	}
	rows, err := x.q.QueryContext(context.Background(), `SELECT chaincode, record FROM chaincode_policies`)
	if err != nil {
		return nil, fmt.Errorf("index lookup: %w", err)
	}
	defer rows.Close()
	out := map[string]fabricblock.EndorsementPolicy{}
	for rows.Next() {
		var cc, raw string
		if err := rows.Scan(&cc, &raw); err != nil {
			return nil, fmt.Errorf("index lookup: %w", err)
		}
		var p fabricblock.EndorsementPolicy
		if err := json.Unmarshal([]byte(raw), &p); err != nil {
			return nil, fmt.Errorf("index: %s's endorsement policy: %w", cc, err)
		}
		out[cc] = p
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("index lookup: %w", err)
	}
	return out, nil
}

// Approvals implements audit.History: the organisations' lifecycle
// approvals indexed; audit.ErrNotRecorded if the index holds blocks
// indexed before it kept them.
func (x history) Approvals() (audit.Approvals, error) {
	if err := x.keptSince("approvals_since", "lifecycle approvals"); err != nil {
		return nil, err
	}
	rows, err := x.q.QueryContext(context.Background(), `SELECT org, key_hash, value_hash FROM lifecycle_approvals`)
	if err != nil {
		return nil, fmt.Errorf("index lookup: %w", err)
	}
	defer rows.Close()
	out := audit.Approvals{}
	for rows.Next() {
		var org, key string
		var value []byte
		if err := rows.Scan(&org, &key, &value); err != nil {
			return nil, fmt.Errorf("index lookup: %w", err)
		}
		if out[org] == nil {
			out[org] = map[string][]byte{}
		}
		out[org][key] = value
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("index lookup: %w", err)
	}
	return out, nil
}

// keptSince fails with audit.ErrNotRecorded when table (log_since,
// policies_since, approvals_since) says the index kept what from a block
// after 0.
func (x history) keptSince(table, what string) error {
	var since uint64
	if err := x.q.QueryRowContext(context.Background(), `SELECT block FROM `+table+` WHERE id = 1`).Scan(&since); err != nil {
		return fmt.Errorf("index lookup: %w", err)
	}
	if since > 0 {
		return fmt.Errorf("%s of an index written before 2026-12-04 (kept from block %d): %w", what, since, audit.ErrNotRecorded)
	}
	return nil
}

// indexedHead is an anchored head with the block that wrote it.
type indexedHead struct {
	ballot.AnchoredHead
	Block uint64
}

// logHeads returns the indexed anchored heads, by state.
func (x history) logHeads() ([]indexedHead, error) {
	rows, err := x.q.QueryContext(context.Background(), `SELECT block, record FROM log_heads ORDER BY state`)
	if err != nil {
		return nil, fmt.Errorf("index lookup: %w", err)
	}
	defer rows.Close()
	var heads []indexedHead
	for rows.Next() {
		var h indexedHead
		var raw string
		if err := rows.Scan(&h.Block, &raw); err != nil {
			return nil, fmt.Errorf("index lookup: %w", err)
		}
		if err := json.Unmarshal([]byte(raw), &h.AnchoredHead); err != nil {
			return nil, fmt.Errorf("index: anchored head: %w", err)
		}
		heads = append(heads, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("index lookup: %w", err)
	}
	return heads, nil
}

// ValidTxIDs implements audit.History: those of ids an indexed VALID
// transaction carried (one query, by the txs_id index).
func (x history) ValidTxIDs(ids []string) (map[string]bool, error) {
	rows, err := x.q.QueryContext(context.Background(),
		`SELECT DISTINCT id FROM txs WHERE id IN (SELECT value FROM json_each(?)) AND code = 'VALID'`, jsonText(ids))
	if err != nil {
		return nil, fmt.Errorf("index lookup: %w", err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("index lookup: %w", err)
		}
		out[id] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("index lookup: %w", err)
	}
	return out, nil
}

// Batched implements audit.History: the totals of each state's indexed
// batches (each batch's first commit).
func (x history) Batched() (map[string]ballot.BatchTotals, error) {
	rows, err := x.q.QueryContext(context.Background(), `SELECT state, COUNT(*), SUM(votes) FROM batches GROUP BY state`)
	if err != nil {
		return nil, fmt.Errorf("index lookup: %w", err)
	}
	defer rows.Close()
	out := map[string]ballot.BatchTotals{}
	for rows.Next() {
		var state string
		var t ballot.BatchTotals
		if err := rows.Scan(&state, &t.Batches, &t.Votes); err != nil {
			return nil, fmt.Errorf("index lookup: %w", err)
		}
		out[state] = t
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("index lookup: %w", err)
	}
	return out, nil
}

// RollSealed reports whether an indexed transaction sealed the roll.
func (x history) RollSealed() (bool, error) {
	return x.exists(`SELECT 1 FROM roll_seal WHERE id = 1`)
}

// exists reports whether query returns a row.
func (x history) exists(query string, args ...any) (bool, error) {
	var one int
	err := x.q.QueryRowContext(context.Background(), query, args...).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("index lookup: %w", err)
	}
	return true, nil
}

// BatchRoot returns the root of the indexed batch (state, seq), if any.
func (x history) BatchRoot(state string, seq uint64) (string, bool, error) {
	return scanBatchRoot(x.q.QueryRowContext(context.Background(), batchRootQuery, state, seq), state, seq)
}

const batchRootQuery = `SELECT root FROM batches WHERE state = ? AND seq = ?`

// scanBatchRoot reads the answer to batchRootQuery.
func scanBatchRoot(r *sql.Row, state string, seq uint64) (string, bool, error) {
	var root string
	err := r.Scan(&root)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("look up batch %s/%d: %w", state, seq, err)
	}
	return root, true, nil
}

// jsonText encodes v for a TEXT column.
func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil { // unreachable for the slices and maps stored here
		panic(fmt.Sprintf("index: encode %T: %v", v, err))
	}
	return string(b)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

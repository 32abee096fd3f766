// Package index is the explorer's store: an embedded SQLite database (pure
// Go, modernc.org/sqlite) of audited blocks, transactions, batches, votes,
// recounted tallies and verification issues. Blocks are saved in SQL
// transactions of one or more blocks (Writer), each with the checkpoint, so
// a restart resumes exactly after the last saved block and never stores a
// row twice. Its tables and their layout version are in schema.go, its
// answers to the audit's lookups (audit.History) in history.go.
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
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
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

// querier is a *sql.DB or a *sql.Tx.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

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

// Option configures Open.
type Option func(*Index)

// WithLogger makes log get the index's notes (the one-time builds of its
// filters, and Open's judgement of the roll chunk records an old index
// kept, roll_chunks_since, logged once as it is made); without it, or
// with a nil log, they are discarded.
func WithLogger(log *slog.Logger) Option {
	return func(x *Index) {
		if log != nil {
			x.log = log
		}
	}
}

// Open opens (creating if needed) the database at path, configured by opts.
// ctx bounds the opening: the layout's check, the schema's creation and the
// read of the pending vote keys (pending.go), which after a kill reads back
// every batch saved since the last flush. If ctx ends first, Open fails
// with its error, leaving the file as it was or with part of the schema
// created, which the next Open completes. An index no explorer judged by
// the current rule gets its roll_chunks_since judgement (setRollChunksSince)
// on open, logged (WithLogger) and committed as it is made: it stays, and
// is not logged again, even if Open fails after it. The Index outlives ctx.
func Open(ctx context.Context, path string, opts ...Option) (*Index, error) {
	x := newIndex(opts...)
	db, err := openSchema(ctx, path, x.log)
	if err != nil {
		return nil, err
	}
	return openIndex(ctx, x, db, path)
}

// newIndex returns the Index opts configure, not yet open.
func newIndex(opts ...Option) *Index {
	x := &Index{log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(x)
	}
	return x
}

// openSchema is Open's first part: it opens the database at path, checks
// its layout and creates or completes the schema, under ctx; log gets the
// judgement of an old index's roll chunk records (setRollChunksSince).
func openSchema(ctx context.Context, path string, log *slog.Logger) (*sql.DB, error) {
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + pragmas
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open index %s: %w", path, err)
	}
	if err := checkLayout(ctx, db, path); err != nil {
		db.Close()
		return nil, err
	}
	if _, err := db.ExecContext(ctx, schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("create index schema in %s: %w", path, err)
	}
	if err := setRollChunksSince(ctx, db, log); err != nil {
		db.Close()
		return nil, fmt.Errorf("judge which roll chunk records index %s kept: %w", path, err)
	}
	if _, err := db.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, layoutVersion)); err != nil {
		db.Close()
		return nil, fmt.Errorf("mark index %s: %w", path, err)
	}
	// An index made before rejection reasons were recorded gains the column;
	// `explorer reindex` fills it.
	var hasReasons bool
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) > 0 FROM pragma_table_info('batches') WHERE name = 'reasons'`).Scan(&hasReasons); err == nil && !hasReasons {
		_, err = db.ExecContext(ctx, `ALTER TABLE batches ADD COLUMN reasons TEXT NOT NULL DEFAULT '[]'`)
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("add rejection reasons to index %s: %w", path, err)
		}
	}
	return db, nil
}

// openIndex is Open's second part: x (newIndex) opened on db (the
// database at path, its schema made by openSchema), its pending vote keys
// read back and its lookups and write connection prepared, under ctx. If
// that fails, it closes db.
func openIndex(ctx context.Context, x *Index, db *sql.DB, path string) (*Index, error) {
	x.db = db
	x.history.q = db
	x.history.pendingUsed = func(key int64) []keyPlace { return x.committedPlaces(pendingUsed, key) }
	var err error
	if x.pending, err = pendingFromBatches(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("open index %s: %w", path, err)
	}
	if x.used, err = db.PrepareContext(ctx, usedQuery); err == nil {
		if x.rolled, err = db.PrepareContext(ctx, rolledQuery); err == nil {
			if x.segs, err = db.PrepareContext(ctx, segmentQuery); err == nil {
				x.write, err = db.Conn(ctx) // ctx bounds the wait for it, not its use
			}
		}
	}
	if err == nil {
		_, err = x.write.ExecContext(ctx, fmt.Sprintf("PRAGMA cache_size = -%d", writeCacheKiB))
	}
	if err != nil {
		// Not Close: its flush (not cancellable) would write the keys just
		// read back, after a cancel (Ctrl-C) had ended ctx; the batches
		// stay saved, and the next Open reads them back again.
		x.release()
		return nil, fmt.Errorf("prepare index writes and lookups in %s: %w", path, err)
	}
	return x, nil
}

// Close closes the database, first rolling back a Writer left open (the
// write connection would otherwise wait for it forever), then writing the
// pending vote keys as a segment (pending.go, segments.go).
func (x *Index) Close() error {
	x.rollbackOpen()
	// Not cancellable: Close comes at shutdown, after the ctxs have ended,
	// and its flush is what spares the next Open reading every pending
	// batch back.
	var flushErr error
	if x.write != nil {
		flushErr = x.Flush(context.Background())
	}
	return errors.Join(flushErr, x.release())
}

// CloseWithoutFlush closes the database as Close does, rolling back a
// Writer left open, but without Close's flush, which is not cancellable:
// for a failure path after a cancel (Ctrl-C), where writing the keys of
// up to pendingFlushRows pending votes would hold the exit up. Nothing is
// lost: the pending keys are those of committed batches after
// keys_flushed, which the next Open reads back into memory (pending.go),
// taking that much longer.
func (x *Index) CloseWithoutFlush() error {
	x.rollbackOpen()
	return x.release()
}

// rollbackOpen rolls back the Writer left open, if any: the write
// connection's close would otherwise wait for it forever.
func (x *Index) rollbackOpen() {
	x.mu.Lock()
	w := x.open
	x.mu.Unlock()
	if w != nil {
		w.Rollback()
	}
}

// release is Close without its rollback and flush: it closes the prepared
// statements, the write connection and the database.
func (x *Index) release() error {
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
	return x.db.Close()
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

package index

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/votechain/votechain/explorer/audit"
	"github.com/votechain/votechain/network/fabricblock"
)

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
-- log_since: an index written before 2026-12-06 13:21 kept it from that
-- block only (audit.ErrNotRecorded).
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
-- each index (the ledger's state), for the audit of the seal.
-- roll_chunks_since as log_since: 0 if the index holds every chunk record
-- the blocks it indexed wrote, else a block from which it kept them; an
-- index written before roll_chunks (2026-12-04 14:07) kept roll rows and
-- none of these, so its seal is not recomputed (audit.ErrNotRecorded).
-- roll_chunks_since (2026-12-07) is set when an index first opens with it
-- (setRollChunksSince): 0 for one begun once log_since was in (2026-12-04
-- 16:36; log_since 0), which kept them from block 0, whatever it holds
-- (a ledger's roll marks written without their chunk record, flagged
-- roll_chunk, leave the seal recomputed over the records written, and
-- flagged). An older index gets 0 only where what it holds proves it
-- lost no record, else the block it had reached then. roll_chunks_judged
-- holds the rule that judged it (rollChunksRule): an index an earlier
-- rule judged (explorers of 2026-12-07 from 05:54: none before this
-- table, 1 from 09:03) is judged again.
CREATE TABLE IF NOT EXISTS roll_chunks (
	idx    INTEGER PRIMARY KEY,
	record TEXT NOT NULL         -- JSON ballot.RollChunkRecord
);
CREATE TABLE IF NOT EXISTS roll_chunks_since (
	id    INTEGER PRIMARY KEY CHECK (id = 1),
	block INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS roll_chunks_judged (
	id    INTEGER PRIMARY KEY CHECK (id = 1),
	rule  INTEGER NOT NULL
);
-- The ordering service's configuration as the last config block that
-- carried one left it (JSON fabricblock.ChannelConfig), for the check of
-- the orderers' block signatures. An index written before 2026-12-04
-- 14:29 has none: its blocks' signatures are not checked
-- (audit.ErrNotRecorded).
CREATE TABLE IF NOT EXISTS channel_config (
	id     INTEGER PRIMARY KEY CHECK (id = 1),
	record TEXT NOT NULL
);
-- The intake log's record on the ledger as the indexed blocks left it:
-- the registered keys (JSON ballot.LogKeys) and each state's anchored head
-- (JSON ballot.AnchoredHead, with the block that wrote it), for the audit
-- of later anchors and the audit page. log_since holds the block from
-- which this index kept them: an index written before 2026-12-04 16:36
-- kept none, so its explorer does not check the log's transactions
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
-- 2026-12-04 17:29 kept none (audit.ErrNotRecorded).
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
-- log_since: an index written before 2026-12-04 20:25 kept none.
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
func checkLayout(ctx context.Context, db *sql.DB, path string) error {
	tables := map[string]bool{}
	rows, err := db.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table'`)
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
	if err := db.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&version); err != nil {
		return fmt.Errorf("read index version of %s: %w", path, err)
	}
	if version > layoutVersion {
		return fmt.Errorf("index %s was written by a later explorer (layout %d; this one reads up to %d): use that explorer, or run `explorer reindex` to index the ledger afresh with this one", path, version, layoutVersion)
	}
	return nil
}

// rollChunksRule is the rule setRollChunksSince judges by, kept in
// roll_chunks_judged. The earlier rules, of 2026-12-07 from 05:54 (before
// that table), went by roll rows and records, then by the LoadRoll
// function's name; rule 1 (09:03) passed over every transaction indexed
// as _lifecycle's, whatever its function. Each could take an index that
// lost records for one that kept them all (a false roll_seal): an index
// they judged is judged again.
const rollChunksRule = 2

// setRollChunksSince sets roll_chunks_since (schema.go) in an index that
// has no row in it or one an earlier rule set (rollChunksRule), in one
// SQL transaction under ctx, and logs the judgement to log if the index
// holds blocks. An index begun once log_since was in (log_since 0) kept
// the roll chunk records from block 0: 0. An older one (log_since after
// block 0: begun before 2026-12-04 16:36) may be older than roll_chunks
// (14:07) too, and have indexed transactions that wrote the roll without
// keeping their records, which its seal would then be recomputed without
// (a false roll_seal): it gets 0 only if what it holds proves it lost no
// record, else the block it has reached (or the one an earlier rule set).
// That is proved when
//
//   - no VALID transaction it holds, but CONFIG ones and those calling a
//     function of Fabric's _lifecycle (lifecycleFunctions, which write no
//     namespace but its own), is before both its log_since block and the
//     first block it flagged roll_chunk or roll_seal (issues only an
//     explorer that keeps the records makes, 2026-12-04 14:07 on): every
//     transaction that can have written the roll was indexed by such an
//     explorer, which kept its record or flagged it roll_chunk. The audit
//     finds roll marks and records by the write set, whatever the function
//     (a chaincode not ours may write them from any) or the chaincode
//     invoked (a chaincode-to-chaincode call writes the ballot namespace
//     too); the index keeps no write sets, so every such transaction
//     counts. The chaincode name it keeps (txs.chaincode) is the one in
//     the proposal's invocation spec, not the channel header's one Fabric
//     runs (it never compares them): a proposal to the ballot chaincode
//     can name _lifecycle there, so a _lifecycle transaction is passed
//     over only when its function is one of _lifecycle's, which the
//     ballot chaincode refuses (contractapi: no such function). That
//     leaves a chaincode not ours exposing a function of that name, or
//     endorsers signing writes no chaincode made: such a transaction,
//     recorded as _lifecycle's, would be passed over.
//   - every roll mark it holds is between the first and last nullifier of
//     a chunk record it holds: a record lost would be of marks it holds
//     (the chaincode's LoadRoll writes both), so overlap one it holds, and
//     a roll of overlapping chunks is none the chaincode seals
//     (ballot.SealRoll). A record written without marks (by a chaincode
//     not ours) before the bound above is not seen so: the seal is then
//     flagged over the records held, the marks the recount goes by being
//     no chunk of the roll sealed either.
//
// The first reads the index's transactions up to the bound, the second
// (only if the first fails) counts the roll marks under the records, a
// scan of the roll. Neither is proved for an index begun between
// roll_chunks and log_since that indexed a transaction of the election
// (its set-up, or a LoadRoll with its record) before its log_since block
// and the first such flag, then roll marks without their record (flagged
// roll_chunk): an index begun before roll_chunks could hold the same, so
// it is taken as not recorded (its seal not recomputed) until `explorer
// reindex`, as the log says.
func setRollChunksSince(ctx context.Context, db *sql.DB, log *slog.Logger) error {
	start := time.Now()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var judged bool
	var earlier sql.NullInt64
	var logSince, next int64
	err = tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM roll_chunks_judged WHERE rule >= ?),
		(SELECT block FROM roll_chunks_since WHERE id = 1),
		(SELECT block FROM log_since WHERE id = 1), (SELECT next FROM checkpoint WHERE id = 1)`, rollChunksRule).Scan(&judged, &earlier, &logSince, &next)
	if err != nil || judged {
		return err
	}
	since, proof := int64(0), "begun with log_since at block 0"
	if logSince > 0 {
		if proof, err = rollChunksKept(ctx, tx, logSince); err != nil {
			return err
		}
		if proof == "" {
			since = next
			if earlier.Int64 > 0 {
				since = earlier.Int64
			}
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO roll_chunks_since VALUES (1, ?)`, since); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO roll_chunks_judged VALUES (1, ?)`, rollChunksRule); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	if next == 0 {
		return nil // no block: nothing to judge
	}
	attrs := []any{"roll_chunks_since", since, "duration", time.Since(start).Round(time.Millisecond)}
	if earlier.Valid {
		// An explorer of 2026-12-07 judged it by an earlier rule.
		attrs = append(attrs, "earlier_rule_roll_chunks_since", earlier.Int64)
	}
	if since == 0 {
		log.Info("index: judged to hold every roll chunk record its blocks wrote: the audit recomputes the roll's seal", append(attrs, "proof", proof)...)
		return nil
	}
	msg := "index: not proved to hold every roll chunk record its blocks wrote (an index begun before 2026-12-04 16:36, maybe before 14:07, when explorers began keeping them): " +
		"the audit skips the roll's seal"
	if earlier.Valid && earlier.Int64 == 0 {
		// The earlier rule let the audit recompute the seal over records
		// the index may have lost.
		msg += "; an earlier rule judged it recorded, so a roll_seal flagged since may be false"
	}
	log.Warn(msg+"; run `explorer reindex` to index the ledger afresh and check it", attrs...)
	return nil
}

// rollChunksKept says what proves that an index whose log_since is
// logSince, after block 0, holds every roll chunk record its blocks wrote
// (setRollChunksSince), read with q; "" if nothing does.
func rollChunksKept(ctx context.Context, q querier, logSince int64) (string, error) {
	var unaudited bool
	err := q.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM txs
		WHERE code = 'VALID' AND type <> 'CONFIG' AND NOT (chaincode = ?4 AND function IN (`+lifecycleFunctions+`))
			AND block < MIN(?1, COALESCE((SELECT MIN(block) FROM issues WHERE kind IN (?2, ?3)), ?1)))`,
		logSince, audit.KindRollChunk, audit.KindRollSeal, fabricblock.LifecycleNamespace).Scan(&unaudited)
	if err != nil {
		return "", err
	}
	if !unaudited {
		return "no transaction that can write the roll before log_since or a roll_chunk or roll_seal flag", nil
	}
	ranges, err := chunkRanges(ctx, q)
	if err != nil {
		return "", err
	}
	var uncovered bool
	if len(ranges) == 0 {
		err = q.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM roll)`).Scan(&uncovered)
	} else {
		err = q.QueryRowContext(ctx, uncoveredMarksQuery, jsonText(ranges)).Scan(&uncovered)
	}
	if err != nil || uncovered {
		return "", err
	}
	return "every roll mark under a chunk record", nil
}

// lifecycleFunctions are the functions Fabric's _lifecycle dispatches to
// (Fabric 2.x core/chaincode/lifecycle/scc.go: its *FuncName constants,
// the methods of its Invocation), as an SQL list. Fabric runs the one
// named by the first argument exactly, so a real _lifecycle transaction
// is indexed with one of these as its function (no "contract:" prefix);
// the network's set-up submits ApproveChaincodeDefinitionForMyOrg and
// CommitChaincodeDefinition (peer lifecycle chaincode approveformyorg,
// commit).
const lifecycleFunctions = `'InstallChaincode', 'QueryInstalledChaincode', 'GetInstalledChaincodePackage',
	'QueryInstalledChaincodes', 'ApproveChaincodeDefinitionForMyOrg', 'QueryApprovedChaincodeDefinition',
	'QueryApprovedChaincodeDefinitions', 'CheckCommitReadiness', 'CommitChaincodeDefinition',
	'QueryChaincodeDefinition', 'QueryChaincodeDefinitions'`

// uncoveredMarksQuery tells whether a roll mark is in none of ?1, a JSON
// array of disjoint [first, last] nullifier ranges: it counts the marks
// in them by the roll's key, a range scan per state and range (CROSS JOIN
// keeps that order: the roll scanned per range is a row times ranges).
const uncoveredMarksQuery = `WITH RECURSIVE
	states(state) AS (SELECT MIN(state) FROM roll
		UNION ALL SELECT (SELECT MIN(state) FROM roll WHERE state > s.state) FROM states s WHERE s.state IS NOT NULL),
	ranges(first, last) AS (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?1))
SELECT (SELECT COUNT(*) FROM roll) > (SELECT COUNT(*) FROM states s CROSS JOIN ranges g CROSS JOIN roll r
	ON r.state = s.state AND r.nullifier BETWEEN g.first AND g.last)`

// chunkRanges returns the nullifier ranges of the roll chunk records the
// index holds, read with q, those that overlap merged, in order.
func chunkRanges(ctx context.Context, q querier) ([][2]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT IFNULL(json_extract(record, '$.first'), ''), IFNULL(json_extract(record, '$.last'), '')
		FROM roll_chunks ORDER BY 1`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	ranges := [][2]string{}
	for rows.Next() {
		var r [2]string
		if err := rows.Scan(&r[0], &r[1]); err != nil {
			return nil, err
		}
		switch n := len(ranges); {
		case r[0] > r[1]: // no range
		case n > 0 && r[0] <= ranges[n-1][1]:
			ranges[n-1][1] = max(ranges[n-1][1], r[1])
		default:
			ranges = append(ranges, r)
		}
	}
	return ranges, rows.Err()
}

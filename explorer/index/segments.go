package index

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// The vote keys are written as sorted segments, as a log-structured merge
// tree writes its runs: a flush of the pending keys (pending.go) writes
// each kind's rows, sorted, as packed chunks of chunkRows rows (16 bytes a
// row) of a new segment, and merges it with the latest segments while the
// one before is at most twice its size and the merged segment stays within
// a ceiling (mergePolicy, mergepolicy.go), so that no merge rewrites more
// than the ceiling's rows and each kind holds its rows in full segments
// and about log2 of the ceiling over a flush's smaller ones. Inserted into one b-tree per kind (vote_keys and used_votes, as
// they were until 2026-12-01), each flushed row took a b-tree insert at a
// random place, and the pages a flush made dirty grew with the tables (at
// a few million rows nearly every page of the tables for a flush of
// 200,000): about a third of the explorer's CPU per vote indexed. Written
// as segments a row costs a copy into a chunk, and a chunk's page is
// written once per merge.
//
// A key is looked up in each segment of its kind, with one query that
// reads the one chunk of each segment that can hold it (the last whose
// first key is not above it), in one snapshot, so that a reader never
// misses a segment that a merge replaces; the rows of one key are never
// split over two chunks. An index written before keeps the rows of its
// vote_keys, used_votes and their recent tables, which are still looked up
// and no longer written.

// Kinds of segments.
const (
	segmentIDs  = 0 // vote ids by voteKey
	segmentUsed = 1 // nullifiers of counted votes by nullifierKey
)

// chunkRows is the rows of a chunk (unless more rows share its last key):
// 240 rows of 16 bytes, 3,840 bytes, of which a WITHOUT ROWID table keeps
// about 500 in the b-tree's page and the rest on one overflow page.
const chunkRows = 240

// segmentRowBytes is the size of a row in a chunk: the key, then the
// batch shifted by placeIdxBits and or-ed with the index, little-endian.
const (
	segmentRowBytes = 16
	placeIdxBits    = 24
	maxPlaceBatch   = 1<<(64-placeIdxBits) - 1
)

// segmentQuery reads, for a kind (?1) and a key (?2), the chunk of each of
// the kind's segments that holds the key's rows if any has them (NULL for a
// segment whose first key is above it).
const segmentQuery = `SELECT (SELECT c.rows FROM key_chunks c WHERE c.segment = s.id AND c.first <= ?2 ORDER BY c.first DESC LIMIT 1)
	FROM key_segments s WHERE s.kind = ?1`

// encodeRow appends row to b.
func encodeRow(b []byte, r keyRow) []byte {
	b = binary.LittleEndian.AppendUint64(b, uint64(r.key))
	return binary.LittleEndian.AppendUint64(b, uint64(r.batch)<<placeIdxBits|uint64(r.idx))
}

// decodeRow returns row i of chunk b.
func decodeRow(b []byte, i int) keyRow {
	key := int64(binary.LittleEndian.Uint64(b[i*segmentRowBytes:]))
	place := binary.LittleEndian.Uint64(b[i*segmentRowBytes+8:])
	return keyRow{key, keyPlace{int64(place >> placeIdxBits), int32(place & (1<<placeIdxBits - 1))}}
}

// chunkPlaces appends the places of key in chunk b to out.
func chunkPlaces(b []byte, key int64, out []keyPlace) ([]keyPlace, error) {
	if len(b)%segmentRowBytes != 0 {
		return out, fmt.Errorf("a vote key chunk of %d bytes", len(b))
	}
	n := len(b) / segmentRowBytes
	lo, hi := 0, n
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if decodeRow(b, m).key < key {
			lo = m + 1
		} else {
			hi = m
		}
	}
	for i := lo; i < n; i++ {
		r := decodeRow(b, i)
		if r.key != key {
			break
		}
		out = append(out, r.keyPlace)
	}
	return out, nil
}

// segmentPlaces appends the places of key in the segments of kind to out,
// read with stmt (segmentQuery prepared on the database or a transaction)
// until ctx ends.
func segmentPlaces(ctx context.Context, stmt *sql.Stmt, kind int, key int64, out []keyPlace) ([]keyPlace, error) {
	rows, err := stmt.QueryContext(ctx, kind, key)
	if err != nil {
		return out, err
	}
	defer rows.Close()
	var chunk []byte
	for rows.Next() {
		if err := rows.Scan(&chunk); err != nil {
			return out, err
		}
		if out, err = chunkPlaces(chunk, key, out); err != nil {
			return out, err
		}
	}
	return out, errors.Join(rows.Err(), rows.Close())
}

// segment is a segment's id and rows.
type segment struct{ id, rows int64 }

// readSegments returns the segments of kind, oldest first.
func (w *Writer) readSegments(ctx context.Context, kind int) ([]segment, error) {
	rows, err := w.tx.QueryContext(ctx, `SELECT id, rows FROM key_segments WHERE kind = ? ORDER BY id`, kind)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var segs []segment
	for rows.Next() {
		var s segment
		if err := rows.Scan(&s.id, &s.rows); err != nil {
			return nil, err
		}
		segs = append(segs, s)
	}
	return segs, errors.Join(rows.Err(), rows.Close())
}

// addSegment writes rows (sorted by compareKeyRows) as a segment of kind,
// merged with the latest segments the index's merge policy picks
// (mergepolicy.go): the merged segments are read back and deleted, and the
// rows written once, into one new segment.
func (w *Writer) addSegment(ctx context.Context, kind int, rows []keyRow) error {
	if len(rows) == 0 {
		return nil
	}
	segs, err := w.readSegments(ctx, kind)
	if err != nil {
		return fmt.Errorf("read the vote key segments: %w", err)
	}
	sizes := make([]int64, len(segs))
	for i, s := range segs {
		sizes[i] = s.rows
	}
	n := len(segs) - w.x.mergePolicy().merges(sizes, int64(len(rows)))
	total := int64(len(rows))
	sources := []rowSource{&sliceSource{rows: rows}}
	for _, s := range segs[n:] {
		total += s.rows
		sources = append(sources, &segmentReader{w: w, ctx: ctx, id: s.id})
	}
	if err := w.writeSegment(ctx, kind, total, sources); err != nil {
		return err
	}
	for _, s := range segs[n:] {
		for _, q := range []string{`DELETE FROM key_chunks WHERE segment = ?`, `DELETE FROM key_segments WHERE id = ?`} {
			stmt, err := w.stmt(ctx, q)
			if err == nil {
				_, err = stmt.ExecContext(ctx, s.id)
			}
			if err != nil {
				return fmt.Errorf("delete merged vote key segment %d: %w", s.id, err)
			}
		}
	}
	return nil
}

// writeSegment writes the rows of sources, each sorted, merged in order,
// as a new segment of kind that holds total rows.
func (w *Writer) writeSegment(ctx context.Context, kind int, total int64, sources []rowSource) error {
	res, err := w.tx.ExecContext(ctx, `INSERT INTO key_segments (kind, rows) VALUES (?, ?)`, kind, total)
	var id int64
	if err == nil {
		id, err = res.LastInsertId()
	}
	if err != nil {
		return fmt.Errorf("write a vote key segment: %w", err)
	}
	insert, err := w.stmt(ctx, `INSERT INTO key_chunks VALUES (?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("write a vote key segment: %w", err)
	}
	heads := make([]keyRow, len(sources))
	live := make([]bool, len(sources))
	for i, s := range sources {
		if heads[i], live[i], err = s.next(); err != nil {
			return err
		}
	}
	chunk := make([]byte, 0, (chunkRows+8)*segmentRowBytes)
	var first, last int64
	var written int64
	emit := func() error {
		if len(chunk) == 0 {
			return nil
		}
		if _, err := insert.ExecContext(ctx, id, first, chunk); err != nil {
			return fmt.Errorf("write vote key segment %d: %w", id, err)
		}
		chunk = chunk[:0]
		return nil
	}
	for {
		best := -1
		for i := range sources {
			if live[i] && (best < 0 || compareKeyRows(heads[i], heads[best]) < 0) {
				best = i
			}
		}
		if best < 0 {
			break
		}
		r := heads[best]
		if heads[best], live[best], err = sources[best].next(); err != nil {
			return err
		}
		if r.batch < 0 || r.batch > maxPlaceBatch || r.idx < 0 || r.idx >= 1<<placeIdxBits {
			return fmt.Errorf("write vote key segment %d: place %d/%d out of range", id, r.batch, r.idx)
		}
		if len(chunk) >= chunkRows*segmentRowBytes && r.key != last {
			if err := emit(); err != nil {
				return err
			}
		}
		if len(chunk) == 0 {
			first = r.key
		}
		chunk, last = encodeRow(chunk, r), r.key
		written++
	}
	if err := emit(); err != nil {
		return err
	}
	if written != total {
		return fmt.Errorf("write vote key segment %d: %d rows merged, %d expected", id, written, total)
	}
	return nil
}

// rowSource yields sorted rows; ok false at the end.
type rowSource interface {
	next() (r keyRow, ok bool, err error)
}

// sliceSource yields the rows of a slice.
type sliceSource struct{ rows []keyRow }

func (s *sliceSource) next() (keyRow, bool, error) {
	if len(s.rows) == 0 {
		return keyRow{}, false, nil
	}
	r := s.rows[0]
	s.rows = s.rows[1:]
	return r, true, nil
}

// segmentReader yields the rows of a segment as the Writer's transaction
// sees it, reading readerChunks chunks a query.
type segmentReader struct {
	w       *Writer
	ctx     context.Context
	id      int64
	after   int64 // the first key of the last chunk read
	started bool
	done    bool
	chunks  [][]byte
	at      int // next row of chunks[0]
}

const readerChunks = 256

func (s *segmentReader) next() (keyRow, bool, error) {
	for len(s.chunks) == 0 || s.at*segmentRowBytes >= len(s.chunks[0]) {
		if len(s.chunks) > 0 {
			s.chunks, s.at = s.chunks[1:], 0
			continue
		}
		if s.done {
			return keyRow{}, false, nil
		}
		if err := s.fill(); err != nil {
			return keyRow{}, false, err
		}
	}
	if len(s.chunks[0])%segmentRowBytes != 0 {
		return keyRow{}, false, fmt.Errorf("vote key segment %d: a chunk of %d bytes", s.id, len(s.chunks[0]))
	}
	r := decodeRow(s.chunks[0], s.at)
	s.at++
	return r, true, nil
}

// fill reads the next chunks of the segment.
func (s *segmentReader) fill() error {
	q := `SELECT first, rows FROM key_chunks WHERE segment = ?1 AND first > ?2 ORDER BY first LIMIT ?3`
	if !s.started {
		q = `SELECT first, rows FROM key_chunks WHERE segment = ?1 AND first >= ?2 ORDER BY first LIMIT ?3`
		s.after = math.MinInt64
	}
	stmt, err := s.w.stmt(s.ctx, q)
	if err != nil {
		return fmt.Errorf("read vote key segment %d: %w", s.id, err)
	}
	rows, err := stmt.QueryContext(s.ctx, s.id, s.after, readerChunks)
	if err != nil {
		return fmt.Errorf("read vote key segment %d: %w", s.id, err)
	}
	defer rows.Close()
	s.started = true
	n := 0
	for rows.Next() {
		var chunk []byte
		if err := rows.Scan(&s.after, &chunk); err != nil {
			return fmt.Errorf("read vote key segment %d: %w", s.id, err)
		}
		s.chunks = append(s.chunks, chunk)
		n++
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fmt.Errorf("read vote key segment %d: %w", s.id, err)
	}
	s.done = n < readerChunks
	return nil
}

// eachSegmentKey calls fn with the key of every row of the segments of
// kind, as q sees them.
func eachSegmentKey(ctx context.Context, q *sql.Tx, kind int, fn func(int64)) error {
	rows, err := q.QueryContext(ctx, `SELECT c.rows FROM key_segments s JOIN key_chunks c ON c.segment = s.id WHERE s.kind = ?`, kind)
	if err != nil {
		return err
	}
	defer rows.Close()
	var chunk []byte
	for rows.Next() {
		if err := rows.Scan(&chunk); err != nil {
			return err
		}
		if len(chunk)%segmentRowBytes != 0 {
			return fmt.Errorf("a vote key chunk of %d bytes", len(chunk))
		}
		for i := range len(chunk) / segmentRowBytes {
			fn(int64(binary.LittleEndian.Uint64(chunk[i*segmentRowBytes:])))
		}
	}
	return errors.Join(rows.Err(), rows.Close())
}

// segmentRows is the rows of the segments of kind, as q sees them.
func segmentRows(ctx context.Context, q *sql.Tx, kind int) (int64, error) {
	var n int64
	err := q.QueryRowContext(ctx, `SELECT COALESCE(SUM(rows), 0) FROM key_segments WHERE kind = ?`, kind).Scan(&n)
	return n, err
}

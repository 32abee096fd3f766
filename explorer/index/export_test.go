package index

import (
	"context"
	"database/sql"
)

// SetMinFilterKeys sets the least size of x's filters (tests of their
// growth); call it before the first Writer begins.
func SetMinFilterKeys(x *Index, n int) { x.minFilterKeys = n }

// AnywhereStages returns the stages of x's filter of nullifiers alone, 0
// if none was built.
func AnywhereStages(x *Index) int {
	if x.anywhere == nil {
		return 0
	}
	return len(x.anywhere.stages)
}

// VoteKey is voteKey, for the package's external tests.
func VoteKey(id string) int64 { return voteKey(id) }

// AddVoteKeySegment writes a segment of vote ids of one row, key at vote
// idx of batch (a batch_votes id), as a flush would.
func AddVoteKeySegment(x *Index, key, batch int64, idx int) error {
	ctx := context.Background()
	tx, err := x.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	w := &Writer{x: x, tx: tx, stmts: map[string]*sql.Stmt{}}
	if err := w.addSegment(ctx, segmentIDs, []keyRow{{key, keyPlace{batch, int32(idx)}}}); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

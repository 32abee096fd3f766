package roll

import (
	"context"
	"fmt"
	"os"

	"github.com/votechain/votechain/ballot"
)

// NullifierFile is a source of ledger nullifiers (dedup.NullifierSource) read
// from a CSV of "state,nullifier" rows, for rebuilding Bloom filters from an
// export of the ledger until the Fabric adapter provides them directly.
type NullifierFile struct {
	Path string
}

// nullifierHeader returns a nullifier file's optional header row (a first
// row whose state is "state"). Each call returns a new slice, as Header
// does, so the package holds no mutable state.
func nullifierHeader() []string {
	return []string{"state", "nullifier"}
}

// Nullifiers calls fn for every nullifier of state in the file. An error
// about the file's form names the file and the line.
func (f NullifierFile) Nullifiers(ctx context.Context, state string, fn func(string) error) error {
	file, err := os.Open(f.Path)
	if err != nil {
		return err
	}
	defer file.Close()
	header := nullifierHeader()
	return eachRecord(file, f.Path, header, func(first bool, line int, rec []string) error {
		if first && rec[0] == header[0] {
			return nil
		}
		if !ballot.ValidNullifier(rec[1]) {
			return fmt.Errorf("%s: invalid nullifier %q (64 lower-case hex characters)", at(f.Path, line), rec[1])
		}
		if rec[0] != state {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		return fn(rec[1])
	})
}

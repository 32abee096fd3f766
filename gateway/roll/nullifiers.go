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

// Nullifiers calls fn for every nullifier of state in the file.
func (f NullifierFile) Nullifiers(ctx context.Context, state string, fn func(string) error) error {
	file, err := os.Open(f.Path)
	if err != nil {
		return fmt.Errorf("roll: %w", err)
	}
	defer file.Close()
	return eachRecord(file, 2, func(line int, rec []string) error {
		if line == 1 && rec[0] == "state" {
			return nil
		}
		if !ballot.ValidNullifier(rec[1]) {
			return fmt.Errorf("roll: %s line %d: invalid nullifier %q", f.Path, line, rec[1])
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

package fabricclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"golang.org/x/sync/errgroup"

	"github.com/votechain/votechain/ballot"
)

// RollSeal reads the roll's seal, or ballot.ErrNotFound while the roll is
// not sealed.
func (b *Ballot) RollSeal(ctx context.Context) (ballot.RollSeal, error) {
	var s ballot.RollSeal
	err := b.evaluate(ctx, &s, "GetRollSeal")
	return s, err
}

// RollProgress is told of roll entries written to the ledger.
type RollProgress interface{ Add(n int64) }

// LoadRoll writes the roll (entries sorted by nullifier, ballot.SortRoll) to
// the ledger, one LoadRoll transaction per chunk with up to parallel in
// flight, then seals it against the election's roll root and returns the
// seal (Commission admin identity only). It is idempotent: loaded chunks are
// not written again, and a sealed roll is returned as it is. p, if set, is
// told of every chunk's entries as its transaction commits.
func (b *Ballot) LoadRoll(ctx context.Context, entries []ballot.RollEntry, parallel int, p RollProgress) (ballot.RollSeal, error) {
	seal, err := b.RollSeal(ctx)
	if err == nil || !errors.Is(err, ballot.ErrNotFound) {
		return seal, err
	}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(parallel, 1))
	for _, c := range ballot.ChunkRoll(entries) {
		g.Go(func() error {
			payload, err := json.Marshal(c)
			if err != nil {
				return err
			}
			if _, err := b.contract.SubmitWithContext(gctx, "LoadRoll", client.WithBytesArguments(payload)); err != nil {
				return fmt.Errorf("load roll chunk %d: %w", c.Index, err)
			}
			if p != nil {
				mu.Lock()
				p.Add(int64(len(c.Entries)))
				mu.Unlock()
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return ballot.RollSeal{}, err
	}
	out, err := b.contract.SubmitWithContext(ctx, "SealRoll")
	if err != nil {
		return ballot.RollSeal{}, fmt.Errorf("seal roll: %w", err)
	}
	if err := json.Unmarshal(out, &seal); err != nil {
		return ballot.RollSeal{}, fmt.Errorf("decode roll seal: %w", err)
	}
	return seal, nil
}

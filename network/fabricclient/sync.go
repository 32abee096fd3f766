package fabricclient

import (
	"context"
	"fmt"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"

	"github.com/votechain/votechain/network"
)

// endorsersWithin bounds syncEndorsers: a peer normally trails the other by
// a block for milliseconds, a loaded machine's for seconds.
const endorsersWithin = time.Minute

// syncEndorsers waits until the peer of every organisation that endorses
// batches holds every block this client's peer holds now. A submit waits
// for its commit on this client's peer only; a transaction that the next
// ones depend on (the election record) is there for both endorsers of
// those once syncEndorsers returns, so a peer a block behind does not
// refuse them.
func (b *Ballot) syncEndorsers(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, endorsersWithin)
	defer cancel()
	want, err := b.Height(ctx)
	if err != nil {
		return err
	}
	for _, org := range network.EndorsingMSPs() {
		for {
			h, err := b.height(ctx, client.WithEndorsingOrganizations(org))
			if err != nil {
				return fmt.Errorf("%s's peer, waiting for it to reach height %d: %w", org, want, err)
			}
			if h >= want {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s's peer is at height %d, short of %d: %w", org, h, want, ctx.Err())
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	return nil
}

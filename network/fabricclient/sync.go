package fabricclient

import (
	"context"
	"fmt"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"

	"github.com/votechain/votechain/network"
)

// endorsersWithin bounds SyncEndorsers: a peer normally trails the other by
// a block for milliseconds, a loaded machine's for seconds.
const endorsersWithin = time.Minute

// SyncEndorsers waits, up to a minute, until the peer of every organisation
// that endorses batches holds every block the highest of them holds now. A
// submit waits for its commit on this client's peer only, and peers a block
// apart answer a proposal that depends on that block differently (or one
// refuses it), or show a reader different states; once SyncEndorsers
// returns, the transactions committed before it are on every peer.
func (b *Ballot) SyncEndorsers(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, endorsersWithin)
	defer cancel()
	orgs := network.EndorsingMSPs()
	heights := make([]uint64, len(orgs))
	var want uint64
	for i, org := range orgs {
		h, err := b.height(ctx, client.WithEndorsingOrganizations(org))
		if err != nil {
			return fmt.Errorf("height of %s's peer: %w", org, err)
		}
		heights[i], want = h, max(want, h)
	}
	for i, org := range orgs {
		for heights[i] < want {
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s's peer is at height %d, short of %d: %w", org, heights[i], want, ctx.Err())
			case <-time.After(20 * time.Millisecond):
			}
			h, err := b.height(ctx, client.WithEndorsingOrganizations(org))
			if err != nil {
				return fmt.Errorf("%s's peer, waiting for it to reach height %d: %w", org, want, err)
			}
			heights[i] = h
		}
	}
	return nil
}

// Endorsing peers at different block heights can answer the same proposal
// differently: just after a batch (or roll chunk) commits, one peer returns
// its stored record while another has not committed it yet and counts it
// afresh. Fabric then refuses the endorsement ("ProposalResponsePayloads do
// not match"); the answers agree once the lagging peer catches up, so
// untilPeersAgree waits until every endorsing peer holds the blocks the
// highest one held (SyncEndorsers) and tries again, up to
// disagreementAttempts in all (blocks committed meanwhile can cause another
// disagreement).
const disagreementAttempts = 6

// untilPeersAgree runs submit, and again after SyncEndorsers while it fails
// because the endorsing peers answered differently; it returns submit's
// last error, or SyncEndorsers' (naming the disagreement).
func (b *Ballot) untilPeersAgree(ctx context.Context, submit func() error) error {
	for attempt := 1; ; attempt++ {
		err := submit()
		if err == nil || !peersDisagree(err) || attempt == disagreementAttempts {
			return err
		}
		if serr := b.SyncEndorsers(ctx); serr != nil {
			return fmt.Errorf("%w (after the peers disagreed: %v)", serr, err)
		}
	}
}

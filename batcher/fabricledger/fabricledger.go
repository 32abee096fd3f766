// Package fabricledger adapts the Fabric ballot contract client
// (network/fabricclient) to the batcher's Ledger, so that package batcher
// itself does not depend on Fabric: cmd/batcher wires it, and the
// integration tests and benchmarks that drain onto a real network use it.
package fabricledger

import (
	"context"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/batcher"
	"github.com/votechain/votechain/network/fabricclient"
)

// New is the batcher.Ledger of a Fabric ballot contract client: its reads
// and block stream as they are, Submit through SubmitBatches. It offers the
// election record too (Election), which the batcher's cast wait reads.
func New(b *fabricclient.Ballot) batcher.Ledger { return ledger{b} }

type ledger struct{ *fabricclient.Ballot }

// The batcher finds the election record by this method (its cast wait
// leaves out the votes a closed or finalised election refuses whatever
// their commit time).
var _ batcher.ElectionSource = ledger{}

func (l ledger) Submit(ctx context.Context, bs []ballot.Batch) (batcher.Tx, error) {
	p, err := l.SubmitBatches(ctx, bs)
	if err != nil {
		return nil, err // not a typed nil Tx
	}
	return p, nil
}

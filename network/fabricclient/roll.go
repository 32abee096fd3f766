package fabricclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc/status"

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
type RollProgress = interface{ Add(n int64) }

// LoadRoll writes the roll (entries sorted by nullifier, ballot.SortRoll) to
// the ledger, one LoadRoll transaction per chunk with up to parallel in
// flight, then seals it against the election's roll root and returns the
// seal (Commission admin identity only). It is idempotent: loaded chunks are
// not written again, and a sealed roll is returned as it is; a chunk whose
// transaction's fate is unknown, or that lost a read conflict, is submitted
// again (untilOrdered). p, if set, is told of every chunk's entries as its
// transaction commits. A refusal of this client's clock, of a chunk or of
// the seal, wraps ballot.ErrClockSkew (txError).
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
			err = b.untilPeersAgree(gctx, func() error {
				return untilOrdered(gctx, rollResubmitWait, func() error {
					_, err := b.contract.SubmitWithContext(gctx, "LoadRoll", client.WithBytesArguments(payload))
					return err
				})
			})
			if err != nil {
				return txError(fmt.Sprintf("load roll chunk %d", c.Index), err)
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
	out, err := b.seal(ctx)
	if err != nil {
		return ballot.RollSeal{}, err
	}
	if err := json.Unmarshal(out, &seal); err != nil {
		return ballot.RollSeal{}, fmt.Errorf("decode roll seal: %w", err)
	}
	return seal, nil
}

// untilOrdered submits a roll chunk up to rollSubmitAttempts times in all,
// rollResubmitWait apart.
const (
	rollSubmitAttempts = 5
	rollResubmitWait   = time.Second
)

// untilOrdered calls submit again, wait apart and up to rollSubmitAttempts
// times in all, while it fails in a way that leaves the transaction's fate
// unknown or that a fresh transaction may not hit: refused by the ordering
// service (SubmitError), its commit status not seen (CommitStatusError), or
// invalidated by a read conflict (a CommitError with MVCC_READ_CONFLICT or
// PHANTOM_READ_CONFLICT). Under SmartBFT the gateway needs three of the four
// orderers to accept a transaction, and an orderer back from a stall after
// the others ordered it answers "request already processed", which the
// gateway counts as a refusal: the chunk is on the ledger, the client is
// told it failed. A chunk submitted again while the first is still waiting
// to be ordered reads the chunk as not yet loaded and is then invalidated
// behind it. Only for idempotent transactions: a chunk loaded again writes
// nothing (chaincode LoadRoll).
func untilOrdered(ctx context.Context, wait time.Duration, submit func() error) error {
	for attempt := 1; ; attempt++ {
		err := submit()
		if err == nil || attempt == rollSubmitAttempts || !resubmittable(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
}

// resubmittable tells whether err, from a submit, is one untilOrdered
// submits again on.
func resubmittable(err error) bool {
	var commitErr *client.CommitError
	switch {
	case FateUnknown(err):
		return true
	case errors.As(err, &commitErr):
		return readConflict(commitErr.Code)
	}
	return false
}

// readConflict tells whether a validation code says the transaction read
// keys (or a range) another transaction wrote between its endorsement and
// its commit.
func readConflict(code peer.TxValidationCode) bool {
	return code == peer.TxValidationCode_MVCC_READ_CONFLICT || code == peer.TxValidationCode_PHANTOM_READ_CONFLICT
}

// peerMessages returns the peers' own messages a failed endorsement carries
// (the chaincode's refusal), as "; MSP: message" for each, or "".
func peerMessages(err error) string {
	st, ok := status.FromError(err)
	if !ok {
		return ""
	}
	var out string
	for _, d := range st.Details() {
		if ed, ok := d.(*gateway.ErrorDetail); ok {
			out += "; " + ed.GetMspId() + ": " + ed.GetMessage()
		}
	}
	return out
}

// peersDisagree tells whether a failed endorsement failed because the
// endorsing peers returned different results for the same proposal.
func peersDisagree(err error) bool {
	st, ok := status.FromError(err)
	if !ok {
		return false
	}
	for _, d := range st.Details() {
		if ed, ok := d.(*gateway.ErrorDetail); ok && strings.Contains(ed.GetMessage(), "ProposalResponsePayloads do not match") {
			return true
		}
	}
	return false
}

// sealAttempts bounds SealRoll's retries: a peer that has not yet committed
// the last chunks sees a partial roll and refuses to endorse.
const sealAttempts = 10

// seal submits SealRoll, retrying while a peer lags behind the chunks.
func (b *Ballot) seal(ctx context.Context) ([]byte, error) {
	return retrySeal(ctx, func() ([]byte, error) { return b.contract.SubmitWithContext(ctx, "SealRoll") })
}

// retrySeal calls submit up to sealAttempts times, a second apart, until it
// succeeds. A refusal of this client's clock (ballot.ErrClockSkew) is not
// retried: another second does not fix a clock.
func retrySeal(ctx context.Context, submit func() ([]byte, error)) ([]byte, error) {
	var err error
	for i := range sealAttempts {
		var out []byte
		if out, err = submit(); err == nil {
			return out, nil
		}
		if refused := txError("seal roll", err); errors.Is(refused, ballot.ErrClockSkew) {
			return nil, fmt.Errorf("%w (attempt %d)", refused, i+1)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
	return nil, txError(fmt.Sprintf("seal roll (%d attempts)", sealAttempts), err)
}

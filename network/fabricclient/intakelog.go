package fabricclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/hyperledger/fabric-gateway/pkg/client"

	"github.com/votechain/votechain/ballot"
)

// RegisterLogKeys registers intake log public keys (Commission admin
// identity only) and returns the registered record. A refusal of this
// client's clock wraps ballot.ErrClockSkew (txError).
func (b *Ballot) RegisterLogKeys(ctx context.Context, keys []ballot.LogKey) (ballot.LogKeys, error) {
	payload, err := json.Marshal(map[string][]ballot.LogKey{"keys": keys})
	if err != nil {
		return ballot.LogKeys{}, err
	}
	out, err := b.contract.SubmitWithContext(ctx, "RegisterLogKeys", client.WithBytesArguments(payload))
	if err != nil {
		return ballot.LogKeys{}, txError(fmt.Sprintf("register %d log keys", len(keys)), err)
	}
	var rec ballot.LogKeys
	if err := json.Unmarshal(out, &rec); err != nil {
		return ballot.LogKeys{}, fmt.Errorf("decode RegisterLogKeys result: %w", err)
	}
	return rec, nil
}

// LogKeys reads the registered intake log keys.
func (b *Ballot) LogKeys(ctx context.Context) (ballot.LogKeys, error) {
	var k ballot.LogKeys
	err := b.evaluate(ctx, &k, "GetLogKeys")
	return k, err
}

// AnchorLogHeads anchors signed tree heads (Commission client identity)
// and waits for the transaction to commit VALID. A refusal carries the
// chaincode's reason; see anchorError for the errors that wrap
// ballot.ErrHeadConflict, ballot.ErrHeadStale, ballot.ErrUnknownLogKey and
// ballot.ErrClockSkew.
func (b *Ballot) AnchorLogHeads(ctx context.Context, anchors []ballot.LogAnchor) error {
	payload, err := json.Marshal(map[string][]ballot.LogAnchor{"heads": anchors})
	if err != nil {
		return err
	}
	if _, err := b.contract.SubmitWithContext(ctx, "AnchorLogHeads", client.WithBytesArguments(payload)); err != nil {
		return anchorError(len(anchors), err)
	}
	return nil
}

// anchorError describes a failed AnchorLogHeads of n heads. Two failures
// wrap ballot.ErrHeadConflict, both what another signer's anchor of the
// same state causes: the chaincode's refusal of a head that does not extend
// the anchored one (ballot.HeadConflictMark in a peer's message; the
// other anchor committed before this one was endorsed), and a read
// conflict at commit (it committed between this one's endorsement and its
// commit: the validation code, not text). The chaincode's refusal of a
// head stamped before the anchored one (ballot.HeadStaleMark) wraps
// ballot.ErrHeadStale, of a head signed by a key not registered
// (ballot.UnknownLogKeyMark, or an older chaincode's refusal without it,
// told by ballot.ErrUnknownLogKey's text) ballot.ErrUnknownLogKey; other
// failures are txError's (a refusal of this client's clock wraps
// ballot.ErrClockSkew).
func anchorError(n int, err error) error {
	what := fmt.Sprintf("anchor %d log heads", n)
	peers := peerMessages(err)
	var commitErr *client.CommitError
	switch {
	case ballot.IsHeadConflict(err.Error()+peers) || errors.As(err, &commitErr) && readConflict(commitErr.Code):
		return refusal(what, ballot.ErrHeadConflict, err, peers)
	case ballot.IsHeadStale(err.Error() + peers):
		return refusal(what, ballot.ErrHeadStale, err, peers)
	case unknownLogKey(err.Error() + peers):
		return refusal(what, ballot.ErrUnknownLogKey, err, peers)
	}
	return txError(what, err)
}

// unknownLogKey says whether the chaincode's message refuses a head for
// its key, not registered: it carries ballot.UnknownLogKeyMark, or, from
// a chaincode older than the mark, ballot.ErrUnknownLogKey's text.
func unknownLogKey(message string) bool {
	return ballot.IsUnknownLogKey(message) || strings.Contains(message, ballot.ErrUnknownLogKey.Error())
}

// LogHead reads a state's last anchored head, or ballot.ErrNotFound.
func (b *Ballot) LogHead(ctx context.Context, state string) (ballot.AnchoredHead, error) {
	var h ballot.AnchoredHead
	err := b.evaluate(ctx, &h, "GetLogHead", state)
	return h, err
}

// batchPageSize is how many records one ListBatches call returns.
const batchPageSize = 500

// BatchesFrom calls fn for the records of the batches committed in state
// from bookmark on ("": the first), in sequence order, paging through the
// ledger, and returns the bookmark of the last page it read. A later call
// from it reads that page again and every batch recorded after it (a
// batch's key grows with its sequence number), not the whole list; a batch
// recorded late with a lower number than that page's is not among them.
func (b *Ballot) BatchesFrom(ctx context.Context, state, bookmark string, fn func(ballot.BatchRecord) error) (string, error) {
	for {
		var page struct {
			Batches  []ballot.BatchRecord `json:"batches"`
			Bookmark string               `json:"bookmark"`
		}
		if err := b.evaluate(ctx, &page, "ListBatches", state, bookmark, strconv.Itoa(batchPageSize)); err != nil {
			return "", err
		}
		for _, r := range page.Batches {
			if err := fn(r); err != nil {
				return "", err
			}
		}
		if page.Bookmark == "" {
			return bookmark, nil
		}
		bookmark = page.Bookmark
	}
}

package chaincode

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"

	"github.com/votechain/votechain/ballot"
)

// maxLogJSON bounds the argument of RegisterLogKeys and AnchorLogHeads.
const maxLogJSON = 256 << 10

// RegisterLogKeys registers the public halves of intake log signing keys
// (JSON ballot.LogKeysInput, {"keys":[{"id","public_key"}]}), adding them to the
// record under ballot.LogKeysKey and returning it (JSON ballot.LogKeys). A
// key registered already stays as it was. Only a Commission admin may
// call it, and not once the election is finalised.
func (c *BallotContract) RegisterLogKeys(ctx contractapi.TransactionContextInterface, keysJSON string) (string, error) {
	if err := requireAdmin(ctx); err != nil {
		return "", err
	}
	if len(keysJSON) > maxLogJSON {
		return "", fmt.Errorf("log keys of %d bytes exceed %d", len(keysJSON), maxLogJSON)
	}
	var in ballot.LogKeysInput
	if err := ballot.DecodeStrict([]byte(keysJSON), &in); err != nil {
		return "", fmt.Errorf("decode log keys: %w", err)
	}
	_, keys, now, err := c.logContext(ctx, "no log key can be registered")
	if err != nil {
		return "", err
	}
	keys, added, err := keys.Register(in.Keys, now.UnixMilli())
	if err != nil {
		return "", err
	}
	if added == 0 {
		return marshal(keys)
	}
	return putJSON(ctx, ballot.LogKeysKey, keys)
}

// GetLogKeys returns the registered log keys (JSON ballot.LogKeys; no keys
// is an empty list).
func (c *BallotContract) GetLogKeys(ctx contractapi.TransactionContextInterface) (string, error) {
	keys, err := loadLogKeys(ctx)
	if err != nil {
		return "", err
	}
	return marshal(keys)
}

// AnchorLogHeads anchors signed tree heads of the intake logs (JSON
// ballot.LogAnchorsInput, {"heads":[{"head","consistency"}]}; at most one
// per state), by the rule of ballot.LogAnchorsInput.Anchor: each must pass
// ballot.LogAnchor.Check against its state's anchored head (this election
// and one of its states, signed by a registered key, by the consistency
// proof a log that extends the anchored one, stamped no earlier than the
// anchored head, refused with ballot.HeadStaleMark, and at most
// MaxClockSkew after the transaction's time; a head of a key not
// registered is refused with ballot.UnknownLogKeyMark). Any failing head
// refuses the whole transaction. A repeat of the anchored head writes
// nothing; every other head replaces its state's record
// (ballot.AnchoredHead under ballot.LogHeadKey). Any
// Commission client may call it, until the election is finalised. Returns
// the records written (JSON array).
func (c *BallotContract) AnchorLogHeads(ctx contractapi.TransactionContextInterface, anchorsJSON string) (string, error) {
	if err := requireCommission(ctx); err != nil {
		return "", err
	}
	if len(anchorsJSON) > maxLogJSON {
		return "", fmt.Errorf("log anchors of %d bytes exceed %d", len(anchorsJSON), maxLogJSON)
	}
	var in ballot.LogAnchorsInput
	if err := ballot.DecodeStrict([]byte(anchorsJSON), &in); err != nil {
		return "", fmt.Errorf("decode log anchors: %w", err)
	}
	e, keys, now, err := c.logContext(ctx, "no head can be anchored")
	if err != nil {
		return "", err
	}
	stub := ctx.GetStub()
	written, err := in.Anchor(e, keys, func(st string) (ballot.AnchoredHead, error) {
		var prev ballot.AnchoredHead
		data, err := stub.GetState(ballot.LogHeadKey(st))
		if err != nil {
			return prev, fmt.Errorf("read the anchored %s head: %w", st, err)
		}
		if data != nil {
			if err := json.Unmarshal(data, &prev); err != nil {
				return prev, fmt.Errorf("decode the anchored %s head: %w", st, err)
			}
		}
		return prev, nil
	}, stub.GetTxID(), now.UnixMilli())
	if errors.Is(err, ballot.ErrUnknownLogKey) {
		return "", fmt.Errorf("%s %w", ballot.UnknownLogKeyMark, err)
	}
	if err != nil {
		return "", err
	}
	for _, rec := range written {
		if _, err := putJSON(ctx, ballot.LogHeadKey(rec.Head.State), rec); err != nil {
			return "", err
		}
	}
	return marshal(written)
}

// GetLogHead returns a state's last anchored head (JSON
// ballot.AnchoredHead), or a ballot.NotFound error when none is.
func (c *BallotContract) GetLogHead(ctx contractapi.TransactionContextInterface, state string) (string, error) {
	if !ballot.ValidState(state) {
		return "", fmt.Errorf("invalid state %q", state)
	}
	return getRaw(ctx, ballot.LogHeadKey(state), ballot.NotFound(fmt.Sprintf("no head of the %s log is anchored", state)))
}

// logContext reads what both log transactions need: the election, which
// must not be finalised (refused saying what cannot be done), the
// registered keys and the transaction time.
func (c *BallotContract) logContext(ctx contractapi.TransactionContextInterface, refused string) (*ballot.Election, ballot.LogKeys, time.Time, error) {
	e, err := loadElection(ctx)
	if err != nil {
		return nil, ballot.LogKeys{}, time.Time{}, err
	}
	if e.Status == ballot.StatusFinalised {
		return nil, ballot.LogKeys{}, time.Time{}, fmt.Errorf("election %s is finalised: %s", e.ID, refused)
	}
	keys, err := loadLogKeys(ctx)
	if err != nil {
		return nil, ballot.LogKeys{}, time.Time{}, err
	}
	now, err := c.txTime(ctx)
	return e, keys, now, err
}

// loadLogKeys reads the registered log keys (none: an empty record).
func loadLogKeys(ctx contractapi.TransactionContextInterface) (ballot.LogKeys, error) {
	keys := ballot.LogKeys{Keys: []ballot.LogKey{}}
	data, err := ctx.GetStub().GetState(ballot.LogKeysKey)
	if err != nil {
		return keys, fmt.Errorf("read log keys: %w", err)
	}
	if data != nil {
		if err := json.Unmarshal(data, &keys); err != nil {
			return keys, fmt.Errorf("decode log keys: %w", err)
		}
	}
	return keys, nil
}

// maxBatchPage bounds one ListBatches page.
const maxBatchPage = 1000

// BatchPage is one page of a state's batch records, in sequence order.
type BatchPage struct {
	Batches  []ballot.BatchRecord `json:"batches"`
	Bookmark string               `json:"bookmark"` // pass to the next call; "" when this was the last page
}

// ListBatches returns a page of the records of state's committed batches
// (JSON BatchPage), for monitors that check every accepted vote of the
// intake log is on the ledger: with each record's transaction they read the
// batch's votes. Pass "" as bookmark for the first page.
func (c *BallotContract) ListBatches(ctx contractapi.TransactionContextInterface, state, bookmark string, pageSize int) (string, error) {
	if !ballot.ValidState(state) {
		return "", fmt.Errorf("invalid state %q", state)
	}
	if pageSize < 1 || pageSize > maxBatchPage {
		return "", fmt.Errorf("page size must be 1..%d, got %d", maxBatchPage, pageSize)
	}
	it, meta, err := ctx.GetStub().GetStateByPartialCompositeKeyWithPagination(ballot.BatchObject, []string{state}, int32(pageSize), bookmark)
	if err != nil {
		return "", fmt.Errorf("list batches of %s: %w", state, err)
	}
	defer it.Close()
	page := BatchPage{Batches: make([]ballot.BatchRecord, 0, pageSize)}
	for it.HasNext() {
		kv, err := it.Next()
		if err != nil {
			return "", fmt.Errorf("list batches of %s: %w", state, err)
		}
		var rec ballot.BatchRecord
		if err := json.Unmarshal(kv.Value, &rec); err != nil {
			return "", fmt.Errorf("decode batch record %q: %w", kv.Key, err)
		}
		page.Batches = append(page.Batches, rec)
	}
	if len(page.Batches) == pageSize {
		page.Bookmark = meta.GetBookmark()
	}
	return marshal(page)
}

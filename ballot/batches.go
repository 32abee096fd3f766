package ballot

import (
	"encoding/json"
	"fmt"
)

// A transaction may carry the batches of several states at once
// (CommitBatches): each batch keeps its own id, root, record and rules, and
// only the transaction is shared, so the per-transaction cost of the ledger
// is paid once for them all. No state appears twice in one transaction: a
// transaction does not read its own writes, so two batches of one state
// would not see each other's nullifiers.

// EventBatchesCommitted is the name of the chaincode event CommitBatches
// emits: a JSON array of BatchEvent, one per batch the transaction
// committed, in argument order (a batch already committed, an idempotent
// retry, is left out; with none committed there is no event).
const EventBatchesCommitted = "BatchesCommitted"

// BatchEvents decodes the payload of the chaincode event named name: one
// event for BatchCommitted, the list for BatchesCommitted. ok is false for
// any other event.
func BatchEvents(name string, payload []byte) (evs []BatchEvent, ok bool, err error) {
	switch name {
	case EventBatchCommitted:
		var ev BatchEvent
		if err := json.Unmarshal(payload, &ev); err != nil {
			return nil, true, fmt.Errorf("ballot: decode %s: %w", name, err)
		}
		return []BatchEvent{ev}, true, nil
	case EventBatchesCommitted:
		if err := json.Unmarshal(payload, &evs); err != nil {
			return nil, true, fmt.Errorf("ballot: decode %s: %w", name, err)
		}
		return evs, true, nil
	}
	return nil, false, nil
}

// BatchesEvent is the payload of EventBatchesCommitted for records.
func BatchesEvent(records []BatchRecord) []BatchEvent {
	evs := make([]BatchEvent, len(records))
	for i, r := range records {
		evs[i] = r.Event()
	}
	return evs
}

// DecodeBatches parses the argument of CommitBatches strictly: a JSON array
// of at least one batch, each as DecodeBatch parses it, at most maxVotes
// votes over all of them, no state twice. It returns the batches and each
// one's JSON as the array holds it, and does not check the claimed roots
// and tallies (Batch.Verify).
func DecodeBatches(data []byte, maxVotes int) ([]Batch, []json.RawMessage, error) {
	if maxVotes <= 0 {
		return nil, nil, fmt.Errorf("ballot: decode batches: vote bound %d must be positive", maxVotes)
	}
	if limit := 2 * MaxBatchBytes(maxVotes); len(data) > limit { // room for each batch's own fields
		return nil, nil, fmt.Errorf("ballot: decode batches: %d bytes exceeds the %d-byte bound", len(data), limit)
	}
	scanned, raws, ok := scanBatches(data)
	if !ok {
		scanned, raws = nil, nil
		if err := DecodeStrict(data, &raws); err != nil {
			return nil, nil, fmt.Errorf("ballot: decode batches: %w", err)
		}
	}
	if len(raws) == 0 {
		return nil, nil, fmt.Errorf("ballot: decode batches: no batch")
	}
	out := make([]Batch, len(raws))
	states := make(map[string]int, len(raws))
	votes := 0
	for i, raw := range raws {
		var w *batchJSON
		if scanned != nil {
			w = &scanned[i]
		}
		b, err := decodeBatch(raw, w, maxVotes)
		if err != nil {
			return nil, nil, fmt.Errorf("batch %d: %w", i, err)
		}
		if j, dup := states[b.State]; dup {
			return nil, nil, fmt.Errorf("ballot: batches %d and %d are both of state %s: one transaction carries at most one batch of a state", j, i, b.State)
		}
		states[b.State] = i
		if votes += len(b.Votes); votes > maxVotes {
			return nil, nil, fmt.Errorf("ballot: decode batches: more than %d votes in all", maxVotes)
		}
		out[i] = b
	}
	return out, raws, nil
}

package chaincode

import (
	"cmp"
	"encoding/json"
	"fmt"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"

	"github.com/votechain/votechain/ballot"
)

// GetResults returns the election's results (JSON ballot.Results): every
// state's counts summed from its batch records, and the national totals.
// It reads every batch record, so it is for audits and cache rebuilds; live
// results come from BatchCommitted events.
func (c *BallotContract) GetResults(ctx contractapi.TransactionContextInterface) (string, error) {
	e, err := loadElection(ctx)
	if err != nil {
		return "", err
	}
	res := ballot.Results{ElectionID: e.ID, Status: e.Status, National: make(ballot.Tally),
		States: make(map[string]ballot.StateResult, len(e.States))}
	for _, state := range e.States {
		sr, err := c.stateResult(ctx, state)
		if err != nil {
			return "", err
		}
		res.States[state] = sr
		res.National.Merge(sr.Tallies)
		res.Counted += sr.Counted
		res.Rejected += sr.Rejected
	}
	return marshal(res)
}

// GetStateResults returns one state's results (JSON ballot.StateResult).
func (c *BallotContract) GetStateResults(ctx contractapi.TransactionContextInterface, state string) (string, error) {
	e, err := loadElection(ctx)
	if err != nil {
		return "", err
	}
	if !e.HasState(state) {
		return "", fmt.Errorf("state %q is not in election %s", state, e.ID)
	}
	sr, err := c.stateResult(ctx, state)
	if err != nil {
		return "", err
	}
	return marshal(sr)
}

// stateResult sums the batch records of state. It refuses a state of
// c.maxBatches (0: ballot.MaxStateBatches) records or more: the peer ends
// a range query there without an error, so the sum could be short.
func (c *BallotContract) stateResult(ctx contractapi.TransactionContextInterface, state string) (ballot.StateResult, error) {
	it, err := ctx.GetStub().GetStateByPartialCompositeKey(ballot.BatchObject, []string{state})
	if err != nil {
		return ballot.StateResult{}, fmt.Errorf("list batches of %s: %w", state, err)
	}
	defer it.Close()
	sr := ballot.StateResult{State: state, Tallies: make(ballot.Tally)}
	limit := cmp.Or(c.maxBatches, ballot.MaxStateBatches)
	for it.HasNext() {
		kv, err := it.Next()
		if err != nil {
			return ballot.StateResult{}, fmt.Errorf("list batches of %s: %w", state, err)
		}
		var rec ballot.BatchRecord
		if err := json.Unmarshal(kv.Value, &rec); err != nil {
			return ballot.StateResult{}, fmt.Errorf("decode batch record %q: %w", kv.Key, err)
		}
		sr.Add(rec)
		if sr.Batches >= limit {
			return ballot.StateResult{}, fmt.Errorf("%s has %d batch records or more, the most one range query reads (the peers' ledger.state.totalQueryLimit, ballot.MaxStateBatches): its results cannot be summed whole; raise both together", state, limit)
		}
	}
	return sr, nil
}

// marshal returns v as a JSON string.
func marshal(v any) (string, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode %T: %w", v, err)
	}
	return string(data), nil
}

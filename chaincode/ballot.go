package chaincode

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/queryresult"

	"github.com/votechain/votechain/ballot"
)

const (
	// CommissionMSP is the MSP of the election commission: only its clients
	// may commit batches, and only its admins may configure the election.
	CommissionMSP = ballot.CommissionMSP
	// adminOU is the organisational unit NodeOUs give admin certificates.
	adminOU = ballot.AdminOU

	// MaxBatchVotes bounds the votes of one CommitBatch (and, through
	// ballot.MaxBatchBytes, its size: about 4 MB).
	MaxBatchVotes = ballot.MaxBatchVotes
	// maxElectionBytes bounds the election record accepted by SetupElection.
	maxElectionBytes = 64 << 10

	// MaxClockSkew is how far a proposal's timestamp, which the client sets
	// and the chaincode takes as the transaction's time, may be from the
	// endorsing peer's own clock: each organisation's chaincode refuses to
	// endorse a backdated or postdated election or batch transaction. It
	// is ballot.MaxClockSkew, which also bounds how far after its
	// anchoring transaction a tree head may be stamped.
	MaxClockSkew = ballot.MaxClockSkew
)

// BallotContract is the ballot ledger's contract, registered as "ballot".
//
// Every function returns its result as a JSON document in a string (the
// transaction's response payload is exactly those bytes), so clients decode
// it into the ballot package's types: Election, BatchRecord,
// NullifierRecord, StateResult and Results. Functions refuse with an error,
// which fails endorsement.
//
// The hot path, CommitBatch (one batch) or CommitBatches (the batches of
// several states in one transaction, so that per-transaction costs are paid
// once for them), reads and writes per vote one key scoped to the batch's
// state (all reads in one exchange with the peer, all writes in another),
// reads no shared counter and runs no range query, so concurrent batches
// never conflict.
type BallotContract struct {
	contractapi.Contract
	clock      func() time.Time // this peer's clock, for MaxClockSkew
	maxBatches int              // the most batch records of a state one range query reads (0: ballot.MaxStateBatches)
}

// NewBallotContract returns the contract, named "ballot", checking
// transaction times against the local clock.
func NewBallotContract() *BallotContract {
	c := &BallotContract{clock: time.Now}
	c.Name = "ballot"
	c.Info.Title = "Votechain ballot ledger"
	c.Info.Version = "1.0.0"
	return c
}

// GetEvaluateTransactions marks the read-only functions as "evaluate" in the
// contract metadata: clients should query them rather than submit them.
func (c *BallotContract) GetEvaluateTransactions() []string {
	return []string{"GetElection", "GetBatch", "LocateNullifier", "GetStateResults", "GetResults", "ListNullifiers", "GetRollSeal", "GetLogKeys", "GetLogHead", "ListBatches"}
}

// SetupElection records the election (JSON ballot.Election; status may be
// omitted or "configured"), marked as one whose finalise must carry batch
// totals (finalise_needs_totals, set whatever the argument gives). Only a Commission admin may call it. It may be
// re-run to change the election until the recorded window opens (by
// transaction time, which must be within MaxClockSkew of the peer's clock)
// and while no batch is committed; afterwards, and once closed, it is
// refused. Once any intake log head is anchored it may only store the
// recorded election again (ballot.CheckSetUpAnchored). The record must
// state the roll's size (roll_entries; ballot.SetupElection). Once the
// roll is sealed (SealRoll) the roll root cannot change, nor the size
// differ from the seal's.
func (c *BallotContract) SetupElection(ctx contractapi.TransactionContextInterface, electionJSON string) (string, error) {
	if err := requireAdmin(ctx); err != nil {
		return "", err
	}
	e, err := parseElection(electionJSON)
	if err != nil {
		return "", err
	}
	now, err := c.txTime(ctx)
	if err != nil {
		return "", err
	}
	old, err := loadElection(ctx)
	switch {
	case errors.Is(err, errNoElection):
	case err != nil:
		return "", err
	default:
		if err := old.SetUpRefusal(now); err != nil {
			return "", err
		}
	}
	if batch, err := anyBatch(ctx); err != nil || batch != "" {
		return "", cmp.Or(err, fmt.Errorf("batch %s is committed; the election can no longer be changed", batch))
	}
	head, err := anyLogHead(ctx)
	if err != nil {
		return "", err
	}
	if err := ballot.CheckSetUpAnchored(old, e, head); err != nil {
		return "", err
	}
	if err := checkRollRoot(ctx, e); err != nil {
		return "", err
	}
	return putJSON(ctx, ballot.ElectionKey, e)
}

// firstOf returns the first key and value of the range of composite keys
// of object (what names them in errors), or nil if the range is empty. It
// reads at most one key of the range, so a key written there meanwhile
// makes the caller's transaction fail validation (a phantom read).
func firstOf(ctx contractapi.TransactionContextInterface, object, what string) (*queryresult.KV, error) {
	it, err := ctx.GetStub().GetStateByPartialCompositeKey(object, nil)
	if err != nil {
		return nil, fmt.Errorf("look for %s: %w", what, err)
	}
	defer it.Close()
	if !it.HasNext() {
		return nil, nil
	}
	kv, err := it.Next()
	if err != nil {
		return nil, fmt.Errorf("look for %s: %w", what, err)
	}
	return kv, nil
}

// anyBatch returns the batch id (ballot.Batch.ID, "CA/3") of a committed
// batch, or "" if there is none (firstOf: a batch committed meanwhile
// invalidates the caller).
func anyBatch(ctx contractapi.TransactionContextInterface) (string, error) {
	kv, err := firstOf(ctx, ballot.BatchObject, "committed batches")
	if err != nil || kv == nil {
		return "", err
	}
	state, seq, err := ballot.ParseBatchKey(kv.Key)
	if err != nil {
		return "", fmt.Errorf("malformed batch key %q: %w", kv.Key, err)
	}
	return ballot.Batch{State: state, Seq: seq}.ID(), nil
}

// anyLogHead returns the anchored intake log head of the first state in
// key order, or nil if no head is anchored (firstOf: a head anchored
// meanwhile invalidates the caller). The head records themselves tell, so
// heads anchored by any chaincode version count.
func anyLogHead(ctx contractapi.TransactionContextInterface) (*ballot.AnchoredHead, error) {
	kv, err := firstOf(ctx, ballot.LogHeadObject, "anchored log heads")
	if err != nil || kv == nil {
		return nil, err
	}
	var h ballot.AnchoredHead
	if err := json.Unmarshal(kv.Value, &h); err != nil {
		return nil, fmt.Errorf("decode the anchored head under %q: %w", kv.Key, err)
	}
	return &h, nil
}

// parseElection decodes a new election and returns the record to store
// (ballot.SetupElection: validated, marked finalise_needs_totals).
func parseElection(electionJSON string) (*ballot.Election, error) {
	if len(electionJSON) > maxElectionBytes {
		return nil, fmt.Errorf("election record of %d bytes exceeds %d", len(electionJSON), maxElectionBytes)
	}
	var arg ballot.Election
	if err := ballot.DecodeStrict([]byte(electionJSON), &arg); err != nil {
		return nil, fmt.Errorf("decode election: %w", err)
	}
	e, err := ballot.SetupElection(arg)
	if err != nil {
		return nil, err
	}
	return &e, nil
}

// CloseElection ends voting: the status becomes "closed" and closed_at the
// transaction time, nothing else changing; the window then ends at
// closed_at if that is before closes_at (ballot.Election.WindowEnd).
// Batches of votes cast in the window can still be committed. Commission
// admins only.
func (c *BallotContract) CloseElection(ctx contractapi.TransactionContextInterface) (string, error) {
	return c.transition(ctx, ballot.StatusClosed, nil)
}

// FinaliseElection freezes the results of a closed election: no batch can be
// committed afterwards. Commission admins only; the batcher must have drained
// first. batchedJSON (ballot.FinaliseInput) gives every state's batch totals
// as the caller's check judged them (votechain finalise's: every counted
// vote in an intake log): it refuses unless each state's batches on the
// ledger add up to exactly those (ballot.FinaliseInput.Check), so a batch
// committed after the check, which no check judged, is never finalised.
// It reads every state's batch records by range query, so a batch committed
// between this transaction's endorsement and its commit invalidates it
// (PHANTOM_READ_CONFLICT). It also refuses while a state's batches hold
// fewer votes than its last anchored intake log head says were accepted
// (ballot.AnchoredHead.Unaccounted): those votes are certainly missing
// from the ledger. There is no form without the totals: a call without
// them is refused (an earlier client's).
func (c *BallotContract) FinaliseElection(ctx contractapi.TransactionContextInterface, batchedJSON string) (string, error) {
	check := func(ctx contractapi.TransactionContextInterface, e *ballot.Election) error {
		return c.finalisable(ctx, e, batchedJSON)
	}
	return c.transition(ctx, ballot.StatusFinalised, check)
}

// finalisable refuses unless every state's batches are those batchedJSON
// says the caller's check judged, and hold as many votes as its anchored
// log head.
func (c *BallotContract) finalisable(ctx contractapi.TransactionContextInterface, e *ballot.Election, batchedJSON string) error {
	if len(batchedJSON) > maxElectionBytes {
		return fmt.Errorf("batch totals of %d bytes exceed %d", len(batchedJSON), maxElectionBytes)
	}
	var in ballot.FinaliseInput
	if err := ballot.DecodeStrict([]byte(batchedJSON), &in); err != nil {
		return fmt.Errorf("decode the batch totals: %w", err)
	}
	results := make(map[string]ballot.StateResult, len(e.States))
	err := in.Check(e, func(st string) (ballot.BatchTotals, error) {
		sr, err := c.stateResult(ctx, st)
		results[st] = sr
		return sr.Totals(), err
	})
	if err != nil {
		return err
	}
	return logsAccounted(ctx, e, results)
}

// logsAccounted refuses when a state's batches (results, by state) hold
// fewer votes than its anchored log head.
func logsAccounted(ctx contractapi.TransactionContextInterface, e *ballot.Election, results map[string]ballot.StateResult) error {
	for _, st := range e.States {
		data, err := ctx.GetStub().GetState(ballot.LogHeadKey(st))
		if err != nil {
			return fmt.Errorf("read the anchored %s head: %w", st, err)
		}
		if data == nil {
			continue
		}
		var h ballot.AnchoredHead
		if err := json.Unmarshal(data, &h); err != nil {
			return fmt.Errorf("decode the anchored %s head: %w", st, err)
		}
		sr := results[st]
		if n := h.Unaccounted(sr); n > 0 {
			return fmt.Errorf("the %s intake log's anchored head says %d votes were accepted, its batches hold %d: at least %d accepted votes are not on the ledger; refusing to finalise",
				st, h.Head.Size, sr.Totals().Votes, n)
		}
	}
	return nil
}

// transition moves the election to status to as an admin, stamped with the
// transaction time (ballot.Election.Transition), once its status allows
// the step (ballot.Election.StepRefusal) and then check (if any) passes.
func (c *BallotContract) transition(ctx contractapi.TransactionContextInterface, to string,
	check func(contractapi.TransactionContextInterface, *ballot.Election) error) (string, error) {
	if err := requireAdmin(ctx); err != nil {
		return "", err
	}
	e, err := loadElection(ctx)
	if err != nil {
		return "", err
	}
	if err := e.StepRefusal(to); err != nil {
		return "", err
	}
	if check != nil {
		if err := check(ctx, e); err != nil {
			return "", err
		}
	}
	now, err := c.txTime(ctx)
	if err != nil {
		return "", err
	}
	next, err := e.Transition(to, now)
	if err != nil {
		return "", err
	}
	return putJSON(ctx, ballot.ElectionKey, &next)
}

// GetElection returns the election record (JSON ballot.Election), or a
// ballot.NotFound error before set-up.
func (c *BallotContract) GetElection(ctx contractapi.TransactionContextInterface) (string, error) {
	return getRaw(ctx, ballot.ElectionKey, errNoElection)
}

// GetBatch returns the record of a committed batch (JSON ballot.BatchRecord),
// or a ballot.NotFound error.
func (c *BallotContract) GetBatch(ctx contractapi.TransactionContextInterface, state string, seq uint64) (string, error) {
	if !ballot.ValidState(state) {
		return "", fmt.Errorf("invalid state %q", state)
	}
	return getRaw(ctx, ballot.BatchKey(state, seq), ballot.NotFound(fmt.Sprintf("batch %s/%d is not committed", state, seq)))
}

// LocateNullifier returns where a used nullifier's vote sits on the ledger
// (JSON ballot.NullifierRecord), or a ballot.NotFound error if it is unused
// (on the roll or not).
func (c *BallotContract) LocateNullifier(ctx contractapi.TransactionContextInterface, state, nullifier string) (string, error) {
	if !ballot.ValidState(state) || !ballot.ValidNullifier(nullifier) {
		return "", fmt.Errorf("invalid state %q or nullifier %q", state, nullifier)
	}
	unused := ballot.NotFound(fmt.Sprintf("nullifier %s is not used in %s", nullifier, state))
	value, err := getRaw(ctx, ballot.NullifierKey(state, nullifier), unused)
	if err != nil {
		return "", err
	}
	if _, mark := ballot.ParseRollMark([]byte(value)); mark {
		return "", unused
	}
	rec, err := ballot.DecodeNullifierRecord(state, []byte(value))
	if err != nil {
		return "", fmt.Errorf("stored nullifier %s of %s: %w", nullifier, state, err)
	}
	return marshal(rec)
}

// errNoElection is returned (wrapped) by loadElection before set-up; clients
// read it as ballot.ErrNotFound.
var errNoElection = ballot.NotFound("no election is configured")

// loadElection reads the election record.
func loadElection(ctx contractapi.TransactionContextInterface) (*ballot.Election, error) {
	data, err := ctx.GetStub().GetState(ballot.ElectionKey)
	if err != nil {
		return nil, fmt.Errorf("read election: %w", err)
	}
	return decodeElection(data)
}

// decodeElection decodes a stored election record; nil data is
// errNoElection.
func decodeElection(data []byte) (*ballot.Election, error) {
	if data == nil {
		return nil, errNoElection
	}
	var e ballot.Election
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, fmt.Errorf("decode stored election: %w", err)
	}
	return &e, nil
}

// getRaw returns the stored value of key, or the error missing (made with
// ballot.NotFound, so that clients see ErrNotFound).
func getRaw(ctx contractapi.TransactionContextInterface, key string, missing error) (string, error) {
	data, err := ctx.GetStub().GetState(key)
	if err != nil {
		return "", fmt.Errorf("read ledger: %w", err)
	}
	if data == nil {
		return "", missing
	}
	return string(data), nil
}

// putJSON stores v as JSON under key and returns the JSON.
func putJSON(ctx contractapi.TransactionContextInterface, key string, v any) (string, error) {
	data, err := marshal(v)
	if err != nil {
		return "", err
	}
	if err := ctx.GetStub().PutState(key, []byte(data)); err != nil {
		return "", fmt.Errorf("write %T: %w", v, err)
	}
	return data, nil
}

// txTime returns the transaction's timestamp, the same for every endorser
// (never the local clock, which differs between peers). It refuses a
// timestamp more than MaxClockSkew from this peer's clock, with
// ballot.ClockSkewMark (ballot.ErrClockSkew): the client sets it, and must
// not backdate or postdate what the ledger records.
func (c *BallotContract) txTime(ctx contractapi.TransactionContextInterface) (time.Time, error) {
	ts, err := ctx.GetStub().GetTxTimestamp()
	if err != nil {
		return time.Time{}, fmt.Errorf("read transaction time: %w", err)
	}
	if ts == nil {
		return time.Time{}, errors.New("transaction has no timestamp")
	}
	t := ts.AsTime().UTC()
	if skew := c.clock().Sub(t); skew > MaxClockSkew || skew < -MaxClockSkew {
		return time.Time{}, fmt.Errorf("%w: proposal timestamp %s is %s from this peer's clock, more than %s: refused (check the client's clock)",
			ballot.ErrClockSkew, t.Format(time.RFC3339Nano), skew.Abs().Round(time.Millisecond), MaxClockSkew)
	}
	return t, nil
}

// requireCommission refuses callers outside the Commission MSP.
func requireCommission(ctx contractapi.TransactionContextInterface) error {
	msp, err := ctx.GetClientIdentity().GetMSPID()
	if err != nil {
		return fmt.Errorf("read caller MSP: %w", err)
	}
	if msp != CommissionMSP {
		return fmt.Errorf("caller of MSP %q is not a %s client", msp, CommissionMSP)
	}
	return nil
}

// requireBatcher refuses callers that are not a batcher of the election:
// a Commission client whose certificate's common name the record lists
// (ballot.Election.MayCommit). The gateway's and explorer's identities can
// thus only evaluate.
func requireBatcher(ctx contractapi.TransactionContextInterface, e *ballot.Election) error {
	cert, err := ctx.GetClientIdentity().GetX509Certificate()
	if err != nil {
		return fmt.Errorf("read caller certificate: %w", err)
	}
	if cert == nil || !e.MayCommit(cert.Subject.CommonName) {
		cn := ""
		if cert != nil {
			cn = cert.Subject.CommonName
		}
		return fmt.Errorf("caller %q is not a batcher of election %s: only %v may commit batches", cn, e.ID, e.Batchers)
	}
	return nil
}

// requireAdmin refuses callers that are not Commission admins.
func requireAdmin(ctx contractapi.TransactionContextInterface) error {
	if err := requireCommission(ctx); err != nil {
		return err
	}
	if err := requireAnyAdmin(ctx); err != nil {
		return fmt.Errorf("%s admins only: %w", CommissionMSP, err)
	}
	return nil
}

// requireAnyAdmin refuses callers that are not admins of their organisation:
// with NodeOUs, an admin's certificate carries the organisational unit
// "admin".
func requireAnyAdmin(ctx contractapi.TransactionContextInterface) error {
	cert, err := ctx.GetClientIdentity().GetX509Certificate()
	if err != nil {
		return fmt.Errorf("read caller certificate: %w", err)
	}
	if cert == nil || !slices.Contains(cert.Subject.OrganizationalUnit, adminOU) {
		return fmt.Errorf("caller is not an admin (certificate OU %q required)", adminOU)
	}
	return nil
}

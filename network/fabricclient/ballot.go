package fabricclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"google.golang.org/protobuf/proto"

	"github.com/votechain/votechain/ballot"
)

// Ballot is the typed client of the ballot contract: every component talks to
// the ledger's election data through it.
type Ballot struct {
	contract *client.Contract
	qscc     *client.Contract // the peer's query system chaincode, for blocks
	network  *client.Network
	channel  string
	// endorsers are the organisations whose peers endorse a batch together (Conn.endorsers).
	endorsers []string
}

// Ballot returns the ballot contract client of this connection.
func (c *Conn) Ballot() *Ballot {
	return &Ballot{contract: c.Contract("ballot"), qscc: c.Network.GetContract("qscc"), network: c.Network, channel: c.profile.Channel, endorsers: c.endorsers}
}

// CommitBatch submits the batch, waits until its transaction is committed and
// returns the ledger's record of it. Resubmitting a batch that is already
// committed returns the existing record in a new (VALID) transaction. A
// transaction committed other than VALID gives a *ballot.CommitError.
func (b *Ballot) CommitBatch(ctx context.Context, batch ballot.Batch) (ballot.Committed, error) {
	p, err := b.SubmitBatch(ctx, batch)
	if err != nil {
		return ballot.Committed{}, err
	}
	return p.Wait(ctx)
}

// Election reads the election record.
func (b *Ballot) Election(ctx context.Context) (*ballot.Election, error) {
	var e ballot.Election
	if err := b.evaluate(ctx, &e, "GetElection"); err != nil {
		return nil, err
	}
	return &e, nil
}

// SetupElection records the election (Commission admin identity only) and
// waits until every endorsing organisation's peer holds it, so a batch
// submitted next is not refused by a peer that has not yet committed it.
// A refusal of this client's clock wraps ballot.ErrClockSkew (txError), as
// do CloseElection's and FinaliseElection's.
func (b *Ballot) SetupElection(ctx context.Context, e ballot.Election) error {
	payload, err := json.Marshal(e)
	if err != nil {
		return err
	}
	_, err = b.contract.SubmitWithContext(ctx, "SetupElection", client.WithBytesArguments(payload))
	if err != nil {
		return txError("set up election "+e.ID, err)
	}
	if err := b.SyncEndorsers(ctx); err != nil {
		return fmt.Errorf("election %s set up; waiting for the endorsing peers to hold it: %w", e.ID, err)
	}
	return nil
}

// CloseElection ends voting now (Commission admin identity only) and
// returns the closed record.
func (b *Ballot) CloseElection(ctx context.Context) (*ballot.Election, error) {
	return b.transition(ctx, "CloseElection")
}

// FinaliseElection freezes the results of a closed election (Commission
// admin identity only) and returns the finalised record. Callers check
// first that every accepted vote is on the ledger: no batch can be
// committed afterwards. judged are every state's batch totals as that
// check saw them: the chaincode refuses if the ledger's differ, and a batch
// committed between the endorsement and the commit invalidates the
// transaction; either way the error wraps ballot.ErrLedgerChanged, and a
// check run again may finalise.
func (b *Ballot) FinaliseElection(ctx context.Context, judged ballot.FinaliseInput) (*ballot.Election, error) {
	arg, err := json.Marshal(judged)
	if err != nil {
		return nil, err
	}
	e, err := b.transition(ctx, "FinaliseElection", client.WithBytesArguments(arg))
	if err != nil {
		return nil, finaliseError(err)
	}
	return e, nil
}

// finaliseError describes a failed FinaliseElection: the chaincode's
// refusal of a ledger that changed since the check (its message, in the
// peers') and a read conflict at commit (a key it read written after the
// endorsement) wrap ballot.ErrLedgerChanged; others are err as it is.
func finaliseError(err error) error {
	var commitErr *client.CommitError
	switch {
	case strings.Contains(err.Error()+peerMessages(err), ballot.ErrLedgerChanged.Error()):
		return ledgerChanged{err}
	case errors.As(err, &commitErr) && readConflict(commitErr.Code):
		return fmt.Errorf("%w: a key the finalise read (a batch, an anchored log head or the election record) was written between its endorsement and its commit (%w); run finalise again", ballot.ErrLedgerChanged, err)
	}
	return err
}

// ledgerChanged is the chaincode's refusal to finalise a ledger that
// changed since the check, which its text says: it also wraps
// ballot.ErrLedgerChanged.
type ledgerChanged struct{ err error }

func (e ledgerChanged) Error() string   { return e.err.Error() }
func (e ledgerChanged) Unwrap() []error { return []error{ballot.ErrLedgerChanged, e.err} }

// transition submits a status change of the election and decodes the new
// record; a failure is txError's.
func (b *Ballot) transition(ctx context.Context, fn string, args ...client.ProposalOption) (*ballot.Election, error) {
	result, err := b.contract.SubmitWithContext(ctx, fn, args...)
	if err != nil {
		return nil, txError(fn, err)
	}
	var e ballot.Election
	if err := json.Unmarshal(result, &e); err != nil {
		return nil, fmt.Errorf("decode %s result: %w", fn, err)
	}
	return &e, nil
}

// Results reads national and per-state results summed from batch records.
func (b *Ballot) Results(ctx context.Context) (ballot.Results, error) {
	var r ballot.Results
	err := b.evaluate(ctx, &r, "GetResults")
	return r, err
}

// Batch reads the record of a committed batch.
func (b *Ballot) Batch(ctx context.Context, state string, seq uint64) (ballot.BatchRecord, error) {
	var r ballot.BatchRecord
	err := b.evaluate(ctx, &r, "GetBatch", state, strconv.FormatUint(seq, 10))
	return r, err
}

// LocateNullifier reports where a used nullifier's vote is, or
// ballot.ErrNotFound.
func (b *Ballot) LocateNullifier(ctx context.Context, state, nullifier string) (ballot.NullifierRecord, error) {
	var r ballot.NullifierRecord
	err := b.evaluate(ctx, &r, "LocateNullifier", state, nullifier)
	return r, err
}

// NullifierUsed reports whether the ledger holds the nullifier.
func (b *Ballot) NullifierUsed(ctx context.Context, state, nullifier string) (bool, error) {
	_, err := b.LocateNullifier(ctx, state, nullifier)
	if errors.Is(err, ballot.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// evaluate runs a query and decodes its JSON result into out.
func (b *Ballot) evaluate(ctx context.Context, out any, fn string, args ...string) error {
	result, err := b.contract.EvaluateWithContext(ctx, fn, client.WithArguments(args...))
	if err != nil {
		return evaluateError(fn, args, err)
	}
	if err := json.Unmarshal(result, out); err != nil {
		return fmt.Errorf("decode %s result: %w", fn, err)
	}
	return nil
}

// evaluateError describes a failed query. The chaincode marks a missing
// record with ballot.NotFoundMark, which reaches us inside the peer's message:
// such errors wrap ballot.ErrNotFound and keep the peer's message. Others
// are txError's: a peer's refusal of this client's clock wraps
// ballot.ErrClockSkew.
func evaluateError(fn string, args []string, err error) error {
	if ballot.IsNotFound(err.Error()) {
		return fmt.Errorf("%s%v: %w (%v)", fn, args, ballot.ErrNotFound, err)
	}
	return txError("evaluate "+fn, err)
}

// BlockOfTx returns the number of the block that holds a transaction
// (valid or not), or an error wrapping ballot.ErrNotFound when the peer
// queried holds it in no block (yet), or ballot.ErrClockSkew when the peer
// refused this client's clock.
func (b *Ballot) BlockOfTx(ctx context.Context, txID string) (uint64, error) {
	data, err := b.qscc.EvaluateWithContext(ctx, "GetBlockByTxID", client.WithArguments(b.channel, txID))
	if err != nil {
		return 0, blockOfTxError(txID, err)
	}
	var block common.Block
	if err := proto.Unmarshal(data, &block); err != nil {
		return 0, fmt.Errorf("decode block of transaction %s: %w", txID, err)
	}
	return block.GetHeader().GetNumber(), nil
}

// noSuchTx is how the peer's block index says it holds no such
// transaction (Fabric's blkstorage: "no such transaction ID [<id>] in
// index", inside qscc's and the gateway's words).
const noSuchTx = "no such transaction ID"

// blockOfTxError describes a failed GetBlockByTxID: the peer's "no such
// transaction" wraps ballot.ErrNotFound; any other failure is txError's (a
// refusal of this client's clock wraps ballot.ErrClockSkew).
func blockOfTxError(txID string, err error) error {
	if strings.Contains(err.Error(), noSuchTx) {
		return fmt.Errorf("find block of transaction %s: %w (%v)", txID, ballot.ErrNotFound, err)
	}
	return txError("find block of transaction "+txID, err)
}

// nullifierPageSize is how many nullifiers one ListNullifiers call returns.
const nullifierPageSize = 5000

// Nullifiers calls fn for every nullifier used in state, paging through the
// ledger (dedup.NullifierSource: the Bloom rebuild reads it).
func (b *Ballot) Nullifiers(ctx context.Context, state string, fn func(nullifier string) error) error {
	bookmark := ""
	for {
		var page struct {
			Nullifiers []string `json:"nullifiers"`
			Bookmark   string   `json:"bookmark"`
		}
		if err := b.evaluate(ctx, &page, "ListNullifiers", state, bookmark, strconv.Itoa(nullifierPageSize)); err != nil {
			return err
		}
		for _, n := range page.Nullifiers {
			if err := fn(n); err != nil {
				return err
			}
		}
		if page.Bookmark == "" {
			return nil
		}
		bookmark = page.Bookmark
	}
}

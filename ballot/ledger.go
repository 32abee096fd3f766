package ballot

import (
	"errors"
	"fmt"
	"strings"
)

// The ledger's vocabulary: what a commit returns, where an event sits in the
// channel, and how "no such record" is said on both sides of the chaincode's
// process boundary. The Fabric adapter (network/fabricclient) speaks it;
// every other component depends only on it and on small interfaces of its own.

// ErrNotFound means the ledger holds no such record: no election is set up,
// the batch is not committed, the nullifier is unused.
var ErrNotFound = errors.New("not on the ledger")

// NotFoundMark starts the message of every chaincode error that means "no
// such record". A chaincode error reaches a client only as message text
// (Fabric wraps it in the peer's own words), so this mark is the contract
// between them: the chaincode writes it with NotFound, the client finds it
// with IsNotFound and answers ErrNotFound.
const NotFoundMark = "[not-found]"

// NotFound returns the chaincode's error for a missing record, what
// describing it ("batch CA/7 is not committed"). It wraps ErrNotFound.
func NotFound(what string) error { return notFound(what) }

type notFound string

func (e notFound) Error() string        { return NotFoundMark + " " + string(e) }
func (e notFound) Is(target error) bool { return target == ErrNotFound }

// IsNotFound reports whether a message from the chaincode, however wrapped,
// says "no such record".
func IsNotFound(message string) bool { return strings.Contains(message, NotFoundMark) }

// Committed is the outcome of a committed CommitBatch transaction: the
// ledger's record of the batch, and the transaction and block this commit
// came in. They differ from Record.TxID when the batch was already committed
// by an earlier transaction (an idempotent resubmission).
type Committed struct {
	Record BatchRecord
	TxID   string
	Block  uint64
}

// CommitError reports a transaction that was ordered but not committed VALID
// (for example an MVCC read conflict); it is safe to resubmit the same batch.
type CommitError struct {
	TxID string
	Code string // the validation code, e.g. "MVCC_READ_CONFLICT"
}

func (e *CommitError) Error() string {
	return fmt.Sprintf("transaction %s committed with status %s", e.TxID, e.Code)
}

// Position is a point in the channel's event stream: after transaction TxID
// of block Block (an empty TxID means from the start of Block).
type Position struct {
	Block uint64 `json:"block"`
	TxID  string `json:"tx_id"`
}

// BlockNumber and TransactionID make a Position a Fabric Gateway checkpoint.
func (p Position) BlockNumber() uint64   { return p.Block }
func (p Position) TransactionID() string { return p.TxID }

// BatchCommitted is what one transaction's chaincode event
// (EventBatchCommitted or EventBatchesCommitted) reports committed, and
// where the transaction sits: a checkpoint at At covers all of Events.
type BatchCommitted struct {
	Events []BatchEvent
	At     Position
}

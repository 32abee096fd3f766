package fabricclient

import (
	"fmt"
	"strings"

	"github.com/votechain/votechain/ballot"
)

// peerClockRefusal is in the message of a peer's own refusal of a proposal
// stamped outside its peer.authentication.timewindow (Fabric's
// TimeWindowCheck auth filter, core/handlers/auth/filter/timewindow.go:
// "request unauthorized due to incorrect timestamp <proposal time>, peer
// time <now>, peer.authentication.timewindow <window>"). The filter runs
// before the chaincode, so such a refusal carries no ballot.ClockSkewMark;
// fabric-gateway returns it in the gRPC status details (peerMessages).
const peerClockRefusal = "incorrect timestamp"

// clockRefused reports whether text, a failed transaction's error and its
// peers' messages, says that the transaction's time (this client's clock)
// was refused: by the chaincode, more than ballot.MaxClockSkew from the
// peer's clock (ballot.ClockSkewMark), or by the peer before the chaincode
// runs, outside its peer.authentication.timewindow (15 minutes in Fabric's
// sample core.yaml). Every transaction's and query's refusal is read here,
// so that each client (the intake log's anchors, the batcher's batches)
// answers it with ballot.ErrClockSkew.
//
// The peer's deliver service (the block stream, BlockNumbers) refuses a
// request outside the same window too, but its words ("envelope timestamp
// <t> is more than <window> apart from current server time <now>",
// common/deliver/deliver.go) stay in the peer's log: the client gets a bare
// BAD_REQUEST status, which fabric-gateway answers by closing the stream.
// BlockNumbers therefore asks the peer's chain info first (a query, refused
// by this filter with the same window).
func clockRefused(text string) bool {
	return ballot.IsClockSkew(text) || strings.Contains(text, peerClockRefusal)
}

// txError describes a failed transaction or query, what (for the message),
// with its peers' messages appended: a refusal's reason is only there. A
// refusal of its time, this client's clock (clockRefused), wraps
// ballot.ErrClockSkew, so that every ledger call a client makes (the
// election's set-up, close and finalise, the roll's load and seal, the log
// keys' registration, the anchors, the batches, the queries, the reads of
// blocks and transactions, the chain info that opens the block stream)
// answers it alike.
func txError(what string, err error) error {
	peers := peerMessages(err)
	if clockRefused(err.Error() + peers) {
		return refusal(what, ballot.ErrClockSkew, err, peers)
	}
	return fmt.Errorf("%s: %w%s", what, err, peers)
}

// refusal describes what's failure err, with its peers' messages peers, as
// a refusal of the kind reason: it wraps both reason and err.
func refusal(what string, reason, err error, peers string) error {
	return fmt.Errorf("%s: %w: %w%s", what, reason, err, peers)
}

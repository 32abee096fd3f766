package audit

import (
	"fmt"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/network/fabricblock"
)

// The callers. The chaincode lets only some clients write each record: a
// Commission admin the election record, the roll and the intake log's
// keys; a batcher the election record names the batches; any Commission
// client the anchored heads. The audit checks that the client whose
// certificate the transaction's signature header names (as the orderers
// ordered it: the block's data hash and their signatures cover it) is of
// the Commission's MSP, chained to its CA, and of the role its writes
// need. It judges by the records written, whatever the function called
// (a batch record written by any function needs a batcher; audit.go flags
// one that a CommitBatch or CommitBatches does not commit), and by the
// function only where the chaincode asks for a role before it writes: a
// CommitBatch or CommitBatches needs a batcher even as a retry that
// writes nothing.

// callerNeed is what a transaction's writes ask of its creator.
type callerNeed uint8

const (
	needCommission callerNeed = 1 << iota // a client of the Commission
	needAdmin                             // a Commission admin
	needBatcher                           // a batcher of the election
)

// checkCaller checks tx's creator against need under channel
// configuration cfg and election e (as of the transaction; nil if none).
func checkCaller(r *Report, tx fabricblock.Tx, need callerNeed, cfg *fabricblock.ChannelConfig, e *ballot.Election, ids *IdentityCache) {
	if need == 0 {
		return
	}
	what := "a record only a Commission client may write"
	ou := ""
	switch {
	case need&needAdmin != 0:
		what, ou = "a record only a Commission admin may write", ballot.AdminOU
	case need&needBatcher != 0:
		what = "a batch, which only a batcher the election names may commit"
	}
	fail := func(format string, args ...any) {
		r.issue(KindCaller, tx.ID, fmt.Sprintf("VALID with %s, yet %s", what, fmt.Sprintf(format, args...)))
	}
	if tx.Creator != ballot.CommissionMSP {
		fail("its client is of %s", tx.Creator)
		return
	}
	id := fabricblock.Identity{MSPID: tx.Creator, Cert: tx.CreatorCert}
	if _, err := ids.member(cfg.PeerOrgs, id, ou); err != nil {
		fail("%v", err)
		return
	}
	if need&needBatcher == 0 || e == nil {
		return
	}
	cert, err := parseCert(tx.CreatorCert)
	if err != nil {
		fail("%v", err)
		return
	}
	if !e.MayCommit(cert.Subject.CommonName) {
		fail("its client %q is not among the election's batchers %v", cert.Subject.CommonName, e.Batchers)
	}
}

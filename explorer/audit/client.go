package audit

import (
	"context"
	"fmt"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/votechain/votechain/network/fabricblock"
)

// The clients' signatures and the transactions' ids. A peer commits an
// endorser transaction as VALID only if its id is the one Fabric derives
// from its signature header (SHA-256 of the nonce and the creator), no
// transaction before carried that id, its creator is a member of one of
// the channel's organisations and the creator's key signed the envelope.
// The orderers checked the signature before ordering it; the audit takes
// neither's word: a transaction a client did not send (its certificate
// named, its signature made up or taken from another envelope) and an
// envelope sent again are flagged, whatever the chaincode let them write.

// checkClient checks the id and the client's signature of tx, a VALID
// transaction, under channel configuration cfg. Only endorser
// transactions are checked: a configuration transaction's envelope is
// signed by the orderer that ordered it (the genesis block's by no one),
// and its own rules are those of the channel's configuration.
func checkClient(r *Report, tx fabricblock.Tx, cfg *fabricblock.ChannelConfig, ids *IdentityCache) {
	if tx.Type != common.HeaderType_ENDORSER_TRANSACTION.String() {
		return
	}
	if !tx.IDDerived {
		r.issue(KindClientSignature, tx.ID, "VALID, yet its id is not the one its signature header's nonce and creator give")
	}
	pub, err := ids.member(cfg.PeerOrgs, fabricblock.Identity{MSPID: tx.Creator, Cert: tx.CreatorCert}, "")
	if err == nil {
		err = verifyDigest(pub, tx.ClientSignature.Digest, tx.ClientSignature.Signature)
	}
	if err != nil {
		r.issue(KindClientSignature, tx.ID, fmt.Sprintf("VALID, yet its client's signature of the envelope: %v", err))
	}
}

// checkReplays flags each VALID endorser transaction of b whose id a VALID
// transaction carried before it, in an earlier block (h) or earlier in b:
// Fabric marks such a transaction DUPLICATE_TXID, so that an envelope
// sent again (its id derived from its nonce and creator, above) changes
// nothing the second time.
func checkReplays(ctx context.Context, r *Report, b fabricblock.Block, h History) error {
	var ids []string
	for _, tx := range b.Txs {
		if tx.Valid() && tx.Err == "" && tx.Type == common.HeaderType_ENDORSER_TRANSACTION.String() {
			ids = append(ids, tx.ID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	seen, err := h.ValidTxIDs(ctx, ids)
	if err != nil {
		return err
	}
	inBlock := make(map[string]bool, len(ids))
	for _, id := range ids {
		switch {
		case seen[id]:
			r.issue(KindReplay, id, "VALID, yet a transaction of an earlier block carried its id and was VALID")
		case inBlock[id]:
			r.issue(KindReplay, id, "VALID, yet a transaction earlier in the block carried its id and was VALID")
		}
		inBlock[id] = true
	}
	return nil
}

package audit

import (
	"fmt"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/votechain/votechain/network/fabricblock"
)

// The clients' signatures. A peer commits an endorser transaction as VALID
// only if its id is the one Fabric derives from its signature header
// (SHA-256 of the nonce and the creator), its creator is a member of one
// of the channel's organisations and the creator's key signed the
// envelope. The orderers checked the same before ordering it; the audit
// does not take either's word: a transaction a client did not send (its
// certificate named, its signature made up or taken from another
// envelope) is flagged, whatever the chaincode let it write.

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

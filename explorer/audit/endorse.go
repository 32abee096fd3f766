package audit

import (
	"fmt"
	"strings"

	"github.com/votechain/votechain/network/fabricblock"
)

// The endorsements. The consortium deploys the ballot chaincode with the
// endorsement policy AND('CommissionMSP.peer','ObserversMSP.peer'): a
// peer of every organisation must have executed a transaction and signed
// its outcome before the transaction can be VALID. The validation code is
// the peer's own metadata, which no orderer signs; checking the
// endorsements makes the explorer trust that peer no further than the
// MVCC check: every VALID transaction of the chaincode must carry an
// endorsement by a peer (the "peer" role of its MSP) of every peer
// organisation of the channel configuration, each ECDSA signature valid
// over the outcome and by a certificate its organisation's CA issued.

// checkEndorsements checks the endorsements of tx, a VALID transaction
// of the chaincode, against cfg.
func checkEndorsements(r *Report, tx fabricblock.Tx, cfg *fabricblock.ChannelConfig, ids *IdentityCache) {
	endorsed := map[string]bool{}
	var bad []string
	for i, e := range tx.Endorsements {
		pub, err := ids.member(cfg.PeerOrgs, e.Endorser, "peer")
		if err == nil {
			err = verifyDigest(pub, e.Digest, e.Signature)
		}
		if err != nil {
			bad = append(bad, fmt.Sprintf("endorsement %d: %v", i, err))
			continue
		}
		endorsed[e.Endorser.MSPID] = true
	}
	var missing []string
	for _, o := range cfg.PeerOrgs {
		if !endorsed[o.MSPID] {
			missing = append(missing, o.MSPID)
		}
	}
	if len(missing) > 0 || len(cfg.PeerOrgs) == 0 {
		r.issue(KindEndorsement, tx.ID, fmt.Sprintf("no valid endorsement by a peer of %s (of %d endorsements)%s",
			strings.Join(missing, ", "), len(tx.Endorsements), listed(bad)))
	}
}

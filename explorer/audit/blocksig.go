package audit

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/votechain/votechain/network/fabricblock"
)

// The orderers' block signatures. The explorer reads blocks from one peer;
// these checks make it trust the ordering service's signatures rather than
// that peer: every block after the genesis block must carry the signatures
// the channel's block validation asks for, checked against the orderer
// configuration of the last config block before it (the genesis block's
// until a config update). With BFT that is a quorum of the consenters,
// ⌈(n+f+1)/2⌉ of n with f = ⌊(n−1)/3⌋ (3 of 4: both organisations), each
// signature by the key of the consenter it names; with Raft one signature
// by an orderer whose certificate its organisation's CA issued. The
// genesis block itself is the trust anchor: it is what an auditor compares
// with the channel's published genesis block.

// bftQuorum is the signatures a BFT block needs of n consenters, as
// SmartBFT computes its quorum.
func bftQuorum(n int) int {
	f := (n - 1) / 3
	return (n + f + 2) / 2 // ⌈(n+f+1)/2⌉
}

// SignaturesNeeded is how many orderers' valid signatures a block needs
// under cfg: a BFT quorum of the consenters, or one.
func SignaturesNeeded(cfg *fabricblock.ChannelConfig) int {
	if cfg.Consensus == "BFT" {
		return bftQuorum(len(cfg.Consenters))
	}
	return 1
}

// blockSignatures checks b's orderer signatures against the configuration
// the blocks before left (History), reports the configuration b carries
// for the blocks after it, and returns the configuration b's endorsements
// are checked against (nil: none are). It fails only when h does.
func (a Auditor) blockSignatures(ctx context.Context, r *Report, b fabricblock.Block, h History) (*fabricblock.ChannelConfig, error) {
	r.ChannelConfig = b.ChannelConfig
	if a.SkipSignatures {
		return nil, nil
	}
	if b.Number == 0 {
		if b.ChannelConfig == nil {
			r.issue(KindBlockSignature, "", "the genesis block carries no orderer configuration: no block signature can be checked")
		}
		return nil, nil
	}
	cfg, err := h.ChannelConfig(ctx)
	switch {
	case errors.Is(err, ErrNotRecorded):
		return nil, nil
	case err != nil:
		return nil, err
	case cfg == nil:
		return nil, nil // the genesis block was flagged
	}
	if b.SignaturesErr != "" {
		r.issue(KindBlockSignature, "", b.SignaturesErr)
	} else if msg := verifySignatures(cfg, b.Signatures, a.Identities); msg != "" {
		r.issue(KindBlockSignature, "", msg)
	}
	return cfg, nil
}

// verifySignatures says how sigs fall short of what cfg asks of a block
// ("" if they do not).
func verifySignatures(cfg *fabricblock.ChannelConfig, sigs []fabricblock.Signature, ids *IdentityCache) string {
	var bad []string
	if cfg.Consensus == "BFT" {
		signers := map[uint32]bool{}
		for i, s := range sigs {
			id, err := bftSigner(cfg, s)
			var pub *ecdsa.PublicKey
			if err == nil {
				pub, err = ids.cert(consenterCert(cfg, id))
			}
			if err == nil {
				err = verifyDigest(pub, sha256.Sum256(s.Signed), s.Signature)
			}
			if err != nil {
				bad = append(bad, fmt.Sprintf("signature %d: %v", i, err))
				continue
			}
			signers[id] = true
		}
		if q := SignaturesNeeded(cfg); len(signers) < q {
			return fmt.Sprintf("signed by %d of %d consenters, the quorum is %d%s", len(signers), len(cfg.Consenters), q, listed(bad))
		}
		return ""
	}
	for i, s := range sigs {
		pub, err := ids.member(cfg.OrdererOrgs, s.Creator, "")
		if err == nil {
			err = verifyDigest(pub, sha256.Sum256(s.Signed), s.Signature)
		}
		if err == nil {
			return ""
		}
		bad = append(bad, fmt.Sprintf("signature %d: %v", i, err))
	}
	return fmt.Sprintf("no valid signature of an orderer organisation (%s consensus)%s", cfg.Consensus, listed(bad))
}

func listed(bad []string) string {
	if len(bad) == 0 {
		return ""
	}
	return ": " + strings.Join(bad, "; ")
}

// bftSigner returns the consenter id a BFT signature names, by id or by
// its certificate.
func bftSigner(cfg *fabricblock.ChannelConfig, s fabricblock.Signature) (uint32, error) {
	for _, c := range cfg.Consenters {
		if s.ConsenterID != 0 && c.ID == s.ConsenterID ||
			s.ConsenterID == 0 && c.MSPID == s.Creator.MSPID && string(c.Cert) == string(s.Creator.Cert) {
			return c.ID, nil
		}
	}
	if s.ConsenterID != 0 {
		return 0, fmt.Errorf("consenter %d is not in the configuration", s.ConsenterID)
	}
	return 0, fmt.Errorf("signer %s is not a consenter", s.Creator.MSPID)
}

func consenterCert(cfg *fabricblock.ChannelConfig, id uint32) []byte {
	i := slices.IndexFunc(cfg.Consenters, func(c fabricblock.Consenter) bool { return c.ID == id })
	return cfg.Consenters[i].Cert
}

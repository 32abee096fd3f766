package fabricblock

import (
	"fmt"
	"slices"
	"strings"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"github.com/hyperledger/fabric-protos-go-apiv2/orderer"
	"google.golang.org/protobuf/proto"
)

// The orderers' side of a block: the signatures in its SIGNATURES metadata
// and, in a config block, the ordering service's configuration those of
// later blocks are checked against. Fabric signs a block as
// SHA-256(metadata value ‖ signer header ‖ block header DER) with each
// signer's ECDSA key; a BFT orderer names itself by its consenter id
// (IdentifierHeader), a Raft orderer by its certificate (SignatureHeader's
// creator).

// Signature is one orderer's signature of a block.
type Signature struct {
	// ConsenterID is the signer's id among the BFT consenters, 0 when
	// Creator names the signer instead.
	ConsenterID uint32
	Creator     Identity
	// Signed is what was signed: the metadata value, the signer's header
	// as written and the DER of this block's header.
	Signed []byte
	// Signature is the ASN.1 ECDSA signature of SHA-256(Signed).
	Signature []byte
}

// Identity is an MSP identity: the MSP id and an X.509 certificate (PEM).
type Identity struct {
	MSPID string `json:"msp_id"`
	Cert  []byte `json:"cert"`
}

// OrdererConfig is the ordering service's part of a channel configuration.
type OrdererConfig struct {
	// Consensus is the consensus type: "BFT" or "etcdraft".
	Consensus string `json:"consensus"`
	// Consenters are the BFT consenters (Fabric 3's consenter mapping):
	// ids and signing identities.
	Consenters []Consenter `json:"consenters,omitempty"`
	// Orgs are the orderer organisations' MSPs.
	Orgs []OrdererOrg `json:"orgs"`
}

// Consenter is one BFT consenter.
type Consenter struct {
	ID uint32 `json:"id"`
	Identity
}

// OrdererOrg is an orderer organisation's MSP: its certificate authorities
// (PEM).
type OrdererOrg struct {
	MSPID             string   `json:"msp_id"`
	RootCerts         [][]byte `json:"root_certs"`
	IntermediateCerts [][]byte `json:"intermediate_certs,omitempty"`
}

// signatures decodes the block's SIGNATURES metadata.
func signatures(b *common.Block) ([]Signature, error) {
	md := b.GetMetadata().GetMetadata()
	if len(md) <= int(common.BlockMetadataIndex_SIGNATURES) || len(md[common.BlockMetadataIndex_SIGNATURES]) == 0 {
		return nil, nil
	}
	var m common.Metadata
	if err := unmarshal(md[common.BlockMetadataIndex_SIGNATURES], &m, "signatures metadata"); err != nil {
		return nil, err
	}
	header := headerDER(b.GetHeader())
	out := make([]Signature, 0, len(m.GetSignatures()))
	for i, s := range m.GetSignatures() {
		sig := Signature{Signature: s.GetSignature()}
		signer := s.GetSignatureHeader()
		if len(signer) == 0 && len(s.GetIdentifierHeader()) > 0 {
			var ih common.IdentifierHeader
			if err := unmarshal(s.GetIdentifierHeader(), &ih, fmt.Sprintf("signature %d identifier header", i)); err != nil {
				return nil, err
			}
			sig.ConsenterID, signer = ih.GetIdentifier(), s.GetIdentifierHeader()
		} else {
			var sh common.SignatureHeader
			var creator msp.SerializedIdentity
			if err := unmarshal(signer, &sh, fmt.Sprintf("signature %d header", i)); err != nil {
				return nil, err
			}
			if err := unmarshal(sh.GetCreator(), &creator, fmt.Sprintf("signature %d creator", i)); err != nil {
				return nil, err
			}
			sig.Creator = Identity{MSPID: creator.GetMspid(), Cert: creator.GetIdBytes()}
		}
		sig.Signed = make([]byte, 0, len(m.GetValue())+len(signer)+len(header))
		sig.Signed = append(append(append(sig.Signed, m.GetValue()...), signer...), header...)
		out = append(out, sig)
	}
	return out, nil
}

// parseOrdererConfig returns the ordering service's configuration a CONFIG
// envelope carries, nil if it carries no orderer group.
func parseOrdererConfig(env []byte) (*OrdererConfig, error) {
	var e common.Envelope
	var payload common.Payload
	var ce common.ConfigEnvelope
	if err := unmarshal(env, &e, "envelope"); err != nil {
		return nil, err
	}
	if err := unmarshal(e.GetPayload(), &payload, "payload"); err != nil {
		return nil, err
	}
	if err := unmarshal(payload.GetData(), &ce, "config envelope"); err != nil {
		return nil, err
	}
	og := ce.GetConfig().GetChannelGroup().GetGroups()["Orderer"]
	if og == nil {
		return nil, nil
	}
	cfg := &OrdererConfig{}
	var ct orderer.ConsensusType
	if err := unmarshal(og.GetValues()["ConsensusType"].GetValue(), &ct, "consensus type"); err != nil {
		return nil, err
	}
	cfg.Consensus = ct.GetType()
	if v := og.GetValues()["Orderers"]; v != nil {
		var mapping common.Orderers
		if err := unmarshal(v.GetValue(), &mapping, "consenter mapping"); err != nil {
			return nil, err
		}
		for _, c := range mapping.GetConsenterMapping() {
			cfg.Consenters = append(cfg.Consenters, Consenter{ID: c.GetId(), Identity: Identity{MSPID: c.GetMspId(), Cert: c.GetIdentity()}})
		}
	}
	for name, g := range og.GetGroups() {
		var mc msp.MSPConfig
		var fc msp.FabricMSPConfig
		if err := unmarshal(g.GetValues()["MSP"].GetValue(), &mc, "orderer org "+name+" MSP"); err != nil {
			return nil, err
		}
		if err := proto.Unmarshal(mc.GetConfig(), &fc); err != nil {
			return nil, fmt.Errorf("orderer org %s MSP config: %w", name, err)
		}
		cfg.Orgs = append(cfg.Orgs, OrdererOrg{MSPID: fc.GetName(), RootCerts: fc.GetRootCerts(), IntermediateCerts: fc.GetIntermediateCerts()})
	}
	slices.SortFunc(cfg.Orgs, func(a, b OrdererOrg) int { return strings.Compare(a.MSPID, b.MSPID) })
	return cfg, nil
}

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

// ChannelConfig is what of a channel configuration the audit checks
// signatures against: the ordering service's consensus and consenters,
// the organisations' MSPs and the application's policies.
type ChannelConfig struct {
	// Consensus is the consensus type: "BFT" or "etcdraft".
	Consensus string `json:"consensus"`
	// Consenters are the BFT consenters (Fabric 3's consenter mapping):
	// ids and signing identities.
	Consenters []Consenter `json:"consenters,omitempty"`
	// OrdererOrgs and PeerOrgs are the MSPs of the orderer organisations
	// and of the application (peer) organisations.
	OrdererOrgs []OrgMSP `json:"orderer_orgs"`
	PeerOrgs    []OrgMSP `json:"peer_orgs"`
	// ApplicationPolicies are the application group's implicit meta
	// policies by path (such as LifecycleEndorsementPolicy), each as the
	// signature rule over the organisations' policies it amounts to; nil
	// in a configuration recorded before they were read.
	ApplicationPolicies map[string]SignaturePolicy `json:"application_policies,omitempty"`
}

// Consenter is one BFT consenter.
type Consenter struct {
	ID uint32 `json:"id"`
	Identity
}

// OrgMSP is an organisation's MSP: its certificate authorities (PEM).
type OrgMSP struct {
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

// parseChannelConfig returns the part of the configuration a CONFIG
// envelope carries that ChannelConfig keeps, nil if it carries no orderer
// group.
func parseChannelConfig(env []byte) (*ChannelConfig, error) {
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
	groups := ce.GetConfig().GetChannelGroup().GetGroups()
	og := groups["Orderer"]
	if og == nil {
		return nil, nil
	}
	cfg := &ChannelConfig{}
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
	var err error
	if cfg.OrdererOrgs, err = orgMSPs(og); err != nil {
		return nil, err
	}
	if cfg.PeerOrgs, err = orgMSPs(groups["Application"]); err != nil {
		return nil, err
	}
	if cfg.ApplicationPolicies, err = applicationPolicies(groups["Application"]); err != nil {
		return nil, err
	}
	return cfg, nil
}

// orgMSPs returns the MSPs of the organisations of a config group (the
// Orderer or the Application group), by MSP id.
func orgMSPs(g *common.ConfigGroup) ([]OrgMSP, error) {
	var orgs []OrgMSP
	for name, org := range g.GetGroups() {
		var mc msp.MSPConfig
		var fc msp.FabricMSPConfig
		if err := unmarshal(org.GetValues()["MSP"].GetValue(), &mc, "org "+name+" MSP"); err != nil {
			return nil, err
		}
		if err := proto.Unmarshal(mc.GetConfig(), &fc); err != nil {
			return nil, fmt.Errorf("org %s MSP config: %w", name, err)
		}
		orgs = append(orgs, OrgMSP{MSPID: fc.GetName(), RootCerts: fc.GetRootCerts(), IntermediateCerts: fc.GetIntermediateCerts()})
	}
	slices.SortFunc(orgs, func(a, b OrgMSP) int { return strings.Compare(a.MSPID, b.MSPID) })
	return orgs, nil
}

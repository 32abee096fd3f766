package fabricblock_test

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer/lifecycle"

	"github.com/votechain/votechain/network/fabricblock"
)

// TestDefinedPolicies: a lifecycle write of a chaincode's ValidationInfo
// gives its endorsement policy (a signature policy in the CLI's notation,
// or a channel policy's name); other keys give none, and a value that is
// no policy is an error.
func TestDefinedPolicies(t *testing.T) {
	role := func(mspID string, r msp.MSPRole_MSPRoleType) *msp.MSPPrincipal {
		raw, _ := proto.Marshal(&msp.MSPRole{MspIdentifier: mspID, Role: r})
		return &msp.MSPPrincipal{PrincipalClassification: msp.MSPPrincipal_ROLE, Principal: raw}
	}
	signed := func(i int32) *common.SignaturePolicy {
		return &common.SignaturePolicy{Type: &common.SignaturePolicy_SignedBy{SignedBy: i}}
	}
	outOf := func(n int32, rules ...*common.SignaturePolicy) *common.SignaturePolicy {
		return &common.SignaturePolicy{Type: &common.SignaturePolicy_NOutOf_{NOutOf: &common.SignaturePolicy_NOutOf{N: n, Rules: rules}}}
	}
	value := func(ap *peer.ApplicationPolicy) []byte {
		param, _ := proto.Marshal(ap)
		info, _ := proto.Marshal(&lifecycle.ChaincodeValidationInfo{ValidationPlugin: "vscc", ValidationParameter: param})
		raw, _ := proto.Marshal(&lifecycle.StateData{Type: &lifecycle.StateData_Bytes{Bytes: info}})
		return raw
	}
	env := &common.SignaturePolicyEnvelope{Rule: outOf(2, signed(0), outOf(1, signed(1), signed(2))),
		Identities: []*msp.MSPPrincipal{role("A", msp.MSPRole_PEER), role("B", msp.MSPRole_ADMIN), role("C", msp.MSPRole_MEMBER)}}
	tx := fabricblock.Tx{Writes: []fabricblock.Write{
		{Namespace: fabricblock.LifecycleNamespace, Key: "namespaces/fields/cc/ValidationInfo", Value: value(&peer.ApplicationPolicy{Type: &peer.ApplicationPolicy_SignaturePolicy{SignaturePolicy: env}})},
		{Namespace: fabricblock.LifecycleNamespace, Key: "namespaces/fields/ref/ValidationInfo", Value: value(&peer.ApplicationPolicy{Type: &peer.ApplicationPolicy_ChannelConfigPolicyReference{ChannelConfigPolicyReference: "/Channel/Application/Endorsement"}})},
		{Namespace: fabricblock.LifecycleNamespace, Key: "namespaces/fields/cc/Sequence", Value: []byte{1}},
		{Namespace: "ballot", Key: "namespaces/fields/x/ValidationInfo", Value: []byte("not the lifecycle's")},
	}}
	got, err := tx.DefinedPolicies()
	if err != nil || len(got) != 2 || got["cc"].String() != "AND('A.peer',OR('B.admin','C.member'))" || got["ref"].String() != "/Channel/Application/Endorsement" {
		t.Fatalf("DefinedPolicies = %v, %v", got, err)
	}
	bad := fabricblock.Tx{Writes: []fabricblock.Write{{Namespace: fabricblock.LifecycleNamespace, Key: "namespaces/fields/cc/ValidationInfo", Value: value(&peer.ApplicationPolicy{})}}}
	if got, err := bad.DefinedPolicies(); err == nil {
		t.Fatalf("a definition with no policy: %v", got)
	}
	outOfRange := &common.SignaturePolicyEnvelope{Rule: signed(3), Identities: env.Identities}
	bad.Writes[0].Value = value(&peer.ApplicationPolicy{Type: &peer.ApplicationPolicy_SignaturePolicy{SignaturePolicy: outOfRange}})
	if got, err := bad.DefinedPolicies(); err == nil {
		t.Fatalf("a rule naming identity 3 of 3: %v", got)
	}
}

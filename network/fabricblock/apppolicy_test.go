package fabricblock

import (
	"testing"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"google.golang.org/protobuf/proto"
)

// TestApplicationPolicies: the application group's implicit meta policies
// become that many of the organisations' signature rules (ANY 1, ALL
// every one, MAJORITY more than half), an organisation without the named
// policy a rule nothing satisfies; a signature policy is read as it is; a
// policy of another kind is left out.
func TestApplicationPolicies(t *testing.T) {
	mustMarshal := func(m proto.Message) []byte {
		raw, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	peerOf := func(mspID string) *common.ConfigPolicy {
		role := mustMarshal(&msp.MSPRole{MspIdentifier: mspID, Role: msp.MSPRole_PEER})
		env := &common.SignaturePolicyEnvelope{
			Rule:       &common.SignaturePolicy{Type: &common.SignaturePolicy_SignedBy{SignedBy: 0}},
			Identities: []*msp.MSPPrincipal{{PrincipalClassification: msp.MSPPrincipal_ROLE, Principal: role}},
		}
		return &common.ConfigPolicy{Policy: &common.Policy{Type: int32(common.Policy_SIGNATURE), Value: mustMarshal(env)}}
	}
	meta := func(rule common.ImplicitMetaPolicy_Rule, sub string) *common.ConfigPolicy {
		return &common.ConfigPolicy{Policy: &common.Policy{Type: int32(common.Policy_IMPLICIT_META),
			Value: mustMarshal(&common.ImplicitMetaPolicy{SubPolicy: sub, Rule: rule})}}
	}
	app := &common.ConfigGroup{
		Groups: map[string]*common.ConfigGroup{
			"A": {Policies: map[string]*common.ConfigPolicy{"Endorsement": peerOf("AMSP")}},
			"B": {Policies: map[string]*common.ConfigPolicy{"Endorsement": peerOf("BMSP")}},
			"C": {Policies: map[string]*common.ConfigPolicy{"Endorsement": peerOf("CMSP"), "Other": peerOf("CMSP")}},
		},
		Policies: map[string]*common.ConfigPolicy{
			"Endorsement": meta(common.ImplicitMetaPolicy_MAJORITY, "Endorsement"),
			"Anyone":      meta(common.ImplicitMetaPolicy_ANY, "Endorsement"),
			"Everyone":    meta(common.ImplicitMetaPolicy_ALL, "Endorsement"),
			"Other":       meta(common.ImplicitMetaPolicy_ANY, "Other"),
			"Direct":      peerOf("BMSP"),
			"Custom":      {Policy: &common.Policy{Type: int32(common.Policy_MSP), Value: []byte{1}}},
		},
	}
	got, err := applicationPolicies(app)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"/Channel/Application/Endorsement": "OutOf(2,'AMSP.peer','BMSP.peer','CMSP.peer')",
		"/Channel/Application/Anyone":      "OR('AMSP.peer','BMSP.peer','CMSP.peer')",
		"/Channel/Application/Everyone":    "AND('AMSP.peer','BMSP.peer','CMSP.peer')",
		"/Channel/Application/Other":       "OR(NOBODY,NOBODY,'CMSP.peer')",
		"/Channel/Application/Direct":      "'BMSP.peer'",
	}
	if len(got) != len(want) {
		t.Errorf("policies %v; want %v", got, want)
	}
	for path, w := range want {
		if p, ok := got[path]; !ok || p.String() != w {
			t.Errorf("%s = %v (%v); want %s", path, p, ok, w)
		}
	}
	if got, err := applicationPolicies(nil); err != nil || got != nil {
		t.Errorf("no application group: %v, %v; want none", got, err)
	}
	app.Policies["Bad"] = &common.ConfigPolicy{Policy: &common.Policy{Type: int32(common.Policy_IMPLICIT_META), Value: []byte{0xff}}}
	if got, err := applicationPolicies(app); err == nil {
		t.Errorf("an undecodable implicit meta policy: %v", got)
	}
}

package fabricblock

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer/lifecycle"
)

// LifecycleNamespace is the namespace of Fabric's chaincode lifecycle,
// whose CommitChaincodeDefinition writes each chaincode's definition.
const LifecycleNamespace = "_lifecycle"

// Principal is a party of a signature policy: a role of an
// organisation's MSP.
type Principal struct {
	MSPID string `json:"msp_id"`
	Role  string `json:"role"` // "member", "admin", "client", "peer" or "orderer"
}

// SignaturePolicy is a rule of a signature policy: N of Rules satisfied,
// or, as a leaf (Principal set), one signature by that principal.
type SignaturePolicy struct {
	N         int               `json:"n,omitempty"`
	Rules     []SignaturePolicy `json:"rules,omitempty"`
	Principal *Principal        `json:"principal,omitempty"`
}

// String writes the rule in the notation of Fabric's CLI: 'MSP.role' for
// a leaf, AND(...) for all of its rules, OR(...) for one, OutOf(n, ...)
// otherwise.
func (p SignaturePolicy) String() string {
	if p.Principal != nil {
		return fmt.Sprintf("'%s.%s'", p.Principal.MSPID, p.Principal.Role)
	}
	if len(p.Rules) == 0 && p.N > 0 {
		return "NOBODY" // a rule no signature satisfies
	}
	parts := make([]string, len(p.Rules))
	for i, r := range p.Rules {
		parts[i] = r.String()
	}
	switch {
	case p.N == len(p.Rules) && p.N > 1:
		return "AND(" + strings.Join(parts, ",") + ")"
	case p.N == 1:
		return "OR(" + strings.Join(parts, ",") + ")"
	}
	return fmt.Sprintf("OutOf(%d,%s)", p.N, strings.Join(parts, ","))
}

// EndorsementPolicy is a chaincode's endorsement policy as its committed
// definition states it: a signature policy, or the name of a channel
// policy.
type EndorsementPolicy struct {
	Signature        *SignaturePolicy `json:"signature,omitempty"`
	ChannelReference string           `json:"channel_reference,omitempty"`
}

// String is the signature policy's notation, or the channel policy's name.
func (p EndorsementPolicy) String() string {
	if p.Signature != nil {
		return p.Signature.String()
	}
	return p.ChannelReference
}

// DefinedPolicies returns the endorsement policy of each chaincode whose
// definition the transaction's writes commit (the lifecycle's
// namespaces/fields/<name>/ValidationInfo key), by chaincode name; none
// for a transaction that commits no definition.
func (t Tx) DefinedPolicies() (map[string]EndorsementPolicy, error) {
	var out map[string]EndorsementPolicy
	for _, w := range t.Writes {
		if w.Namespace != LifecycleNamespace || w.Delete {
			continue
		}
		rest, ok := strings.CutPrefix(w.Key, "namespaces/fields/")
		if !ok {
			continue
		}
		name, ok := strings.CutSuffix(rest, "/ValidationInfo")
		if !ok || name == "" || strings.Contains(name, "/") {
			continue
		}
		p, err := decodeValidationInfo(w.Value)
		if err != nil {
			return nil, fmt.Errorf("chaincode %s's definition: %w", name, err)
		}
		if out == nil {
			out = map[string]EndorsementPolicy{}
		}
		out[name] = p
	}
	return out, nil
}

// decodeValidationInfo decodes the lifecycle's stored ValidationInfo
// field: a StateData holding a ChaincodeValidationInfo whose parameter
// is the ApplicationPolicy.
func decodeValidationInfo(raw []byte) (EndorsementPolicy, error) {
	var sd lifecycle.StateData
	var info lifecycle.ChaincodeValidationInfo
	var ap peer.ApplicationPolicy
	if err := unmarshal(raw, &sd, "lifecycle state data"); err != nil {
		return EndorsementPolicy{}, err
	}
	if err := unmarshal(sd.GetBytes(), &info, "validation info"); err != nil {
		return EndorsementPolicy{}, err
	}
	if err := unmarshal(info.GetValidationParameter(), &ap, "application policy"); err != nil {
		return EndorsementPolicy{}, err
	}
	if ref := ap.GetChannelConfigPolicyReference(); ref != "" {
		return EndorsementPolicy{ChannelReference: ref}, nil
	}
	env := ap.GetSignaturePolicy()
	if env == nil {
		return EndorsementPolicy{}, fmt.Errorf("application policy is neither a signature policy nor a channel policy reference")
	}
	rule, err := decodeSignaturePolicy(env)
	if err != nil {
		return EndorsementPolicy{}, err
	}
	return EndorsementPolicy{Signature: &rule}, nil
}

// decodeSignaturePolicy decodes a signature policy envelope: its rule over
// its principals.
func decodeSignaturePolicy(env *common.SignaturePolicyEnvelope) (SignaturePolicy, error) {
	var principals []Principal
	for i, id := range env.GetIdentities() {
		p, err := decodePrincipal(id)
		if err != nil {
			return SignaturePolicy{}, fmt.Errorf("identity %d: %w", i, err)
		}
		principals = append(principals, p)
	}
	return decodeRule(env.GetRule(), principals, 0)
}

// ApplicationPolicyPrefix is the path of the channel's application
// policies: a chaincode definition names one as ApplicationPolicyPrefix +
// its name ("/Channel/Application/Endorsement"), and the lifecycle's
// commits of definitions follow LifecycleEndorsementPolicy.
const (
	ApplicationPolicyPrefix    = "/Channel/Application/"
	LifecycleEndorsementPolicy = ApplicationPolicyPrefix + "LifecycleEndorsement"
)

// applicationPolicies reads the policies of the channel's application
// group, by path, each as the signature rule it amounts to: a signature
// policy as it is, an implicit meta policy (ANY, ALL or MAJORITY of the
// organisations' policies of a name) as that many of the organisations'
// rules, as Fabric counts them: an organisation without a signature
// policy of that name is a rule no signature satisfies. Policies of other
// kinds are left out.
func applicationPolicies(app *common.ConfigGroup) (map[string]SignaturePolicy, error) {
	if app == nil {
		return nil, nil
	}
	out := map[string]SignaturePolicy{}
	for name, cp := range app.GetPolicies() {
		pol := cp.GetPolicy()
		switch common.Policy_PolicyType(pol.GetType()) {
		case common.Policy_SIGNATURE:
			var env common.SignaturePolicyEnvelope
			if err := unmarshal(pol.GetValue(), &env, "application policy "+name); err != nil {
				return nil, err
			}
			r, err := decodeSignaturePolicy(&env)
			if err != nil {
				return nil, fmt.Errorf("application policy %s: %w", name, err)
			}
			out[ApplicationPolicyPrefix+name] = r
			continue
		case common.Policy_IMPLICIT_META:
		default:
			continue
		}
		var meta common.ImplicitMetaPolicy
		if err := unmarshal(pol.GetValue(), &meta, "application policy "+name); err != nil {
			return nil, err
		}
		orgs := slices.Sorted(maps.Keys(app.GetGroups()))
		rule := SignaturePolicy{Rules: make([]SignaturePolicy, len(orgs))}
		for i, org := range orgs {
			sub := app.GetGroups()[org].GetPolicies()[meta.GetSubPolicy()].GetPolicy()
			if common.Policy_PolicyType(sub.GetType()) != common.Policy_SIGNATURE {
				rule.Rules[i] = SignaturePolicy{N: 1} // no such policy: nothing satisfies it
				continue
			}
			var env common.SignaturePolicyEnvelope
			if err := unmarshal(sub.GetValue(), &env, fmt.Sprintf("%s's %s policy", org, meta.GetSubPolicy())); err != nil {
				return nil, err
			}
			r, err := decodeSignaturePolicy(&env)
			if err != nil {
				return nil, fmt.Errorf("%s's %s policy: %w", org, meta.GetSubPolicy(), err)
			}
			rule.Rules[i] = r
		}
		switch meta.GetRule() {
		case common.ImplicitMetaPolicy_ANY:
			rule.N = min(1, len(orgs))
		case common.ImplicitMetaPolicy_ALL:
			rule.N = len(orgs)
		case common.ImplicitMetaPolicy_MAJORITY:
			rule.N = len(orgs)/2 + 1
		default:
			return nil, fmt.Errorf("application policy %s: implicit meta rule %s", name, meta.GetRule())
		}
		if len(orgs) == 0 {
			rule.N = 0 // Fabric's special case: no organisations, nothing asked
		}
		out[ApplicationPolicyPrefix+name] = rule
	}
	return out, nil
}

// decodePrincipal decodes a role principal (the only kind a policy in
// Fabric's CLI notation names).
func decodePrincipal(id *msp.MSPPrincipal) (Principal, error) {
	if id.GetPrincipalClassification() != msp.MSPPrincipal_ROLE {
		return Principal{}, fmt.Errorf("principal of classification %s: only roles are read", id.GetPrincipalClassification())
	}
	var role msp.MSPRole
	if err := unmarshal(id.GetPrincipal(), &role, "MSP role"); err != nil {
		return Principal{}, err
	}
	return Principal{MSPID: role.GetMspIdentifier(), Role: strings.ToLower(role.GetRole().String())}, nil
}

// decodeRule decodes a signature policy's rule over principals.
func decodeRule(r *common.SignaturePolicy, principals []Principal, depth int) (SignaturePolicy, error) {
	if depth > 32 {
		return SignaturePolicy{}, fmt.Errorf("signature policy nested deeper than 32")
	}
	switch t := r.GetType().(type) {
	case *common.SignaturePolicy_SignedBy:
		if t.SignedBy < 0 || int(t.SignedBy) >= len(principals) {
			return SignaturePolicy{}, fmt.Errorf("signature policy names identity %d of %d", t.SignedBy, len(principals))
		}
		p := principals[t.SignedBy]
		return SignaturePolicy{Principal: &p}, nil
	case *common.SignaturePolicy_NOutOf_:
		out := SignaturePolicy{N: int(t.NOutOf.GetN())}
		for _, sub := range t.NOutOf.GetRules() {
			rule, err := decodeRule(sub, principals, depth+1)
			if err != nil {
				return SignaturePolicy{}, err
			}
			out.Rules = append(out.Rules, rule)
		}
		return out, nil
	}
	return SignaturePolicy{}, fmt.Errorf("signature policy rule of no known type")
}

package audit

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/votechain/votechain/network/fabricblock"
)

// The endorsements. A transaction is VALID only if its endorsements
// satisfy the endorsement policy of each chaincode whose namespace it
// writes (and of the chaincode it invokes): for the ballot chaincode the
// policy of its committed definition (AND('CommissionMSP.peer',
// 'ObserversMSP.peer') as the consortium deploys it), for the lifecycle's
// own transactions that commit a definition the channel's
// LifecycleEndorsement (MAJORITY Endorsement). The validation code is the
// peer's own metadata, which no orderer signs; checking the endorsements
// makes the explorer trust that peer no further than the MVCC check: each
// endorsement counts if its ECDSA signature is valid over the outcome and
// by a certificate its organisation's CA issued, and the policy is
// evaluated over those as Fabric does (each signer satisfies one
// principal at most).
//
// Where the policy comes from: the chaincode's last definition the
// blocks committed (History.Policies); a definition naming a channel
// policy, and the lifecycle's own transactions, follow that channel policy
// as the channel's configuration states it (its Endorsement and
// LifecycleEndorsement policies: MAJORITY of each organisation's
// OR('Org.peer') as the consortium configures them); a chaincode whose
// definition the history did not keep (an index written before it did) as
// every peer organisation, and a channel policy of a configuration indexed
// before the application's policies were read as a majority of them.

// policyRule returns the rule a VALID transaction of chaincode cc must
// satisfy under channel configuration cfg, with what it is read from.
func (h *blockHistory) policyRule(ctx context.Context, cc string, cfg *fabricblock.ChannelConfig) (fabricblock.SignaturePolicy, error) {
	if cc == fabricblock.LifecycleNamespace {
		return channelPolicy(cfg, fabricblock.LifecycleEndorsementPolicy), nil
	}
	if err := h.loadPolicies(ctx); err != nil {
		return fabricblock.SignaturePolicy{}, err
	}
	p, ok := h.policies[cc]
	switch {
	case !ok:
		return peerOrgs(cfg, len(cfg.PeerOrgs)), nil
	case p.Signature != nil:
		return *p.Signature, nil
	}
	return channelPolicy(cfg, p.ChannelReference), nil
}

// channelPolicy returns the rule of the channel policy at path under cfg:
// as the configuration states it, a rule nothing satisfies if it states
// none (Fabric then finds no such policy, and validates nothing against
// it), or, for a configuration indexed before its application policies
// were read, a majority of the peer organisations (what this consortium's
// Endorsement and LifecycleEndorsement policies amount to).
func channelPolicy(cfg *fabricblock.ChannelConfig, path string) fabricblock.SignaturePolicy {
	if cfg.ApplicationPolicies == nil {
		return peerOrgs(cfg, len(cfg.PeerOrgs)/2+1)
	}
	if rule, ok := cfg.ApplicationPolicies[path]; ok {
		return rule
	}
	return fabricblock.SignaturePolicy{N: 1}
}

// peerOrgs is the rule: n of the peer organisations' peers.
func peerOrgs(cfg *fabricblock.ChannelConfig, n int) fabricblock.SignaturePolicy {
	rule := fabricblock.SignaturePolicy{N: n}
	for _, o := range cfg.PeerOrgs {
		rule.Rules = append(rule.Rules, fabricblock.SignaturePolicy{Principal: &fabricblock.Principal{MSPID: o.MSPID, Role: "peer"}})
	}
	return rule
}

// loadPolicies reads the chaincodes' policies of the blocks before from
// History, once a block.
func (h *blockHistory) loadPolicies(ctx context.Context) error {
	if h.policies != nil {
		return nil
	}
	before, _, err := kept(ctx, h.History.Policies)
	if err != nil {
		return err
	}
	h.policies = maps.Clone(before)
	if h.policies == nil {
		h.policies = map[string]fabricblock.EndorsementPolicy{}
	}
	return nil
}

// definitions records the endorsement policies a VALID lifecycle
// transaction commits, for the transactions after it and in the report.
func (h *blockHistory) definitions(ctx context.Context, r *Report, tx fabricblock.Tx) error {
	if tx.Chaincode != fabricblock.LifecycleNamespace {
		return nil
	}
	defined, err := tx.DefinedPolicies()
	if err != nil {
		r.issue(KindEndorsement, tx.ID, fmt.Sprintf("VALID, yet %v", err))
		return nil
	}
	if len(defined) == 0 {
		return nil
	}
	if err := h.loadPolicies(ctx); err != nil {
		return err
	}
	if r.Policies == nil {
		r.Policies = map[string]fabricblock.EndorsementPolicy{}
	}
	for cc, p := range defined {
		h.policies[cc], r.Policies[cc] = p, p
	}
	return nil
}

// endorsedAs returns the chaincodes whose endorsement policies tx, a VALID
// transaction, is checked against: the ballot chaincode's if tx invokes it
// or writes to its namespace (public or private: a chaincode-to-chaincode
// call writes there for another invoked chaincode, and Fabric validates
// each namespace written by its own chaincode's policy), and the
// lifecycle's when it commits a definition (its public writes; an
// organisation's approval writes only to its own collection).
func (a Auditor) endorsedAs(tx fabricblock.Tx) []string {
	var ccs []string
	if tx.Chaincode == a.Chaincode || slices.ContainsFunc(tx.Writes, func(w fabricblock.Write) bool { return w.Namespace == a.Chaincode }) ||
		slices.ContainsFunc(tx.HashedWrites, func(w fabricblock.HashedWrite) bool { return w.Namespace == a.Chaincode }) {
		ccs = append(ccs, a.Chaincode)
	}
	if tx.Chaincode == fabricblock.LifecycleNamespace &&
		slices.ContainsFunc(tx.Writes, func(w fabricblock.Write) bool { return w.Namespace == fabricblock.LifecycleNamespace }) {
		ccs = append(ccs, fabricblock.LifecycleNamespace)
	}
	return ccs
}

// checkEndorsements checks the endorsements of tx, a VALID transaction,
// against rule, chaincode cc's, under cfg; an issue of a chaincode tx does
// not invoke says it is for the writes to cc's namespace.
func checkEndorsements(r *Report, tx fabricblock.Tx, cc string, cfg *fabricblock.ChannelConfig, rule fabricblock.SignaturePolicy, ids *IdentityCache) {
	var signers []fabricblock.Identity
	var bad []string
	for i, e := range tx.Endorsements {
		pub, err := ids.member(cfg.PeerOrgs, e.Endorser, "")
		if err == nil {
			err = verifyDigest(pub, e.Digest, e.Signature)
		}
		if err != nil {
			bad = append(bad, fmt.Sprintf("endorsement %d: %v", i, err))
			continue
		}
		if !slices.ContainsFunc(signers, func(s fabricblock.Identity) bool {
			return s.MSPID == e.Endorser.MSPID && string(s.Cert) == string(e.Endorser.Cert)
		}) {
			signers = append(signers, e.Endorser)
		}
	}
	is := func(p fabricblock.Principal, s fabricblock.Identity) bool {
		if s.MSPID != p.MSPID {
			return false
		}
		_, err := ids.member(cfg.PeerOrgs, s, roleOU(p.Role))
		return err == nil
	}
	if len(leaves(rule)) > 0 && satisfies(rule, signers, make([]bool, len(signers)), is) {
		return
	}
	var missing []string
	for _, p := range leaves(rule) {
		if !slices.ContainsFunc(signers, func(s fabricblock.Identity) bool { return is(p, s) }) {
			article := "a"
			if strings.ContainsAny(p.Role[:min(1, len(p.Role))], "aeiou") {
				article = "an"
			}
			missing = append(missing, fmt.Sprintf("%s %s of %s", article, p.Role, p.MSPID))
		}
	}
	what := "the endorsements do not satisfy it"
	if len(missing) > 0 {
		what = "no valid endorsement by " + strings.Join(missing, ", ")
	}
	if cc != tx.Chaincode {
		what = fmt.Sprintf("its writes to the %s namespace (invoking %s): %s", cc, tx.Chaincode, what)
	}
	r.issue(KindEndorsement, tx.ID, fmt.Sprintf("%s (endorsement policy %s; %d endorsements)%s", what, rule, len(tx.Endorsements), listed(bad)))
}

// satisfies evaluates rule over signers as Fabric's signature policies
// do: a leaf takes the first signer not yet used that is its principal;
// an N-of rule tries each sub-rule in turn on a copy of used and keeps
// the signers a satisfied one used.
func satisfies(rule fabricblock.SignaturePolicy, signers []fabricblock.Identity, used []bool, is func(fabricblock.Principal, fabricblock.Identity) bool) bool {
	if rule.Principal != nil {
		for i, s := range signers {
			if !used[i] && is(*rule.Principal, s) {
				used[i] = true
				return true
			}
		}
		return false
	}
	n := 0
	trial := make([]bool, len(used))
	for _, sub := range rule.Rules {
		copy(trial, used)
		if satisfies(sub, signers, trial, is) {
			copy(used, trial)
			n++
		}
	}
	return n >= rule.N
}

// leaves lists the principals a rule names, in order.
func leaves(rule fabricblock.SignaturePolicy) []fabricblock.Principal {
	if rule.Principal != nil {
		return []fabricblock.Principal{*rule.Principal}
	}
	var out []fabricblock.Principal
	for _, sub := range rule.Rules {
		out = append(out, leaves(sub)...)
	}
	return out
}

// roleOU is the organisational unit a certificate of an MSP role carries
// (Fabric's node OUs); "" for any member.
func roleOU(role string) string {
	if role == "member" {
		return ""
	}
	return role
}

package audit

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/votechain/votechain/network/fabricblock"
)

// The approvals of chaincode definitions. An organisation approves a
// definition by a lifecycle transaction that writes its parameters to its
// own implicit collection, which Fabric lets only a peer of that
// organisation endorse; a peer endorses the commit of a definition only
// if its own organisation approved that very definition (Fabric's
// "chaincode definition not agreed to by this org"). The block carries
// the approvals as hashes; the audit keeps them and checks that every
// organisation whose valid endorsement a VALID commit carries had
// approved the committed definition: its name and sequence, and each
// approved field's value (fabricblock.ApprovedFields()) hashing to the
// organisation's approval of it. With the commit's endorsement policy (a
// majority of the organisations, endorse.go) that makes a majority of the
// organisations approve every definition.

// approvalsOf checks and records the approvals tx, a VALID transaction,
// writes, and checks the definitions it commits against the approvals
// before it, under channel configuration cfg.
func (h *blockHistory) approvalsOf(ctx context.Context, r *Report, tx fabricblock.Tx, cfg *fabricblock.ChannelConfig, ids *IdentityCache) error {
	if tx.Chaincode != fabricblock.LifecycleNamespace {
		return nil
	}
	written := tx.Approvals()
	defs, err := tx.CommittedDefinitions()
	if err != nil {
		r.issue(KindApproval, tx.ID, fmt.Sprintf("VALID, yet %v", err))
		return nil
	}
	if len(written) == 0 && len(defs) == 0 {
		return nil
	}
	if err := h.loadApprovals(ctx); err != nil {
		return err
	}
	endorsers := endorsingOrgs(tx, cfg, ids)
	for _, org := range slices.Sorted(maps.Keys(written)) {
		if !slices.Contains(endorsers, org) {
			r.issue(KindApproval, tx.ID, fmt.Sprintf("VALID, yet it writes %s's approvals with no valid endorsement by a peer of %s", org, org))
			continue
		}
		if r.Approvals == nil {
			r.Approvals = Approvals{}
		}
		for _, a := range []Approvals{h.approvals, r.Approvals} {
			if a[org] == nil {
				a[org] = map[string][]byte{}
			}
			maps.Copy(a[org], written[org])
		}
	}
	if !h.approvalsKnown {
		return nil
	}
	for _, d := range defs {
		for _, org := range endorsers {
			if missing := unapproved(h.approvals[org], d); len(missing) > 0 {
				r.issue(KindApproval, tx.ID, fmt.Sprintf("VALID commit of %s sequence %d endorsed by %s, which had not approved that definition (%s)",
					d.Name, d.Sequence, org, strings.Join(missing, ", ")))
			}
		}
	}
	return nil
}

// unapproved lists the approved fields of d whose value org's approvals
// do not hash to (or hold no approval of).
func unapproved(org map[string][]byte, d fabricblock.Definition) []string {
	var missing []string
	for _, f := range fabricblock.ApprovedFields() {
		want, written := d.FieldHashes[f]
		k := fabricblock.ApprovalKeyHash(d.Name, d.Sequence, f)
		got, approved := org[hex.EncodeToString(k[:])]
		switch {
		case !approved || got == nil:
			missing = append(missing, f+" not approved")
		case !written || string(got) != string(want[:]):
			missing = append(missing, f+" approved with another value")
		}
	}
	return missing
}

// endorsingOrgs returns the peer organisations of which a peer endorsed
// tx with a valid signature, in order.
func endorsingOrgs(tx fabricblock.Tx, cfg *fabricblock.ChannelConfig, ids *IdentityCache) []string {
	var orgs []string
	for _, e := range tx.Endorsements {
		pub, err := ids.member(cfg.PeerOrgs, e.Endorser, "peer")
		if err == nil && verifyDigest(pub, e.Digest, e.Signature) == nil && !slices.Contains(orgs, e.Endorser.MSPID) {
			orgs = append(orgs, e.Endorser.MSPID)
		}
	}
	slices.Sort(orgs)
	return orgs
}

// loadApprovals reads the approvals of the blocks before from History,
// once a block.
func (h *blockHistory) loadApprovals(ctx context.Context) error {
	if h.approvals != nil {
		return nil
	}
	before, known, err := kept(ctx, h.History.Approvals)
	if err != nil {
		return err
	}
	h.approvals, h.approvalsKnown = Approvals{}, known
	for org, a := range before {
		h.approvals[org] = maps.Clone(a)
	}
	return nil
}

// kept calls read (a History method) and says whether the history kept
// what it reads: ErrNotRecorded gives the zero value, false and no error.
func kept[T any](ctx context.Context, read func(context.Context) (T, error)) (T, bool, error) {
	v, err := read(ctx)
	if errors.Is(err, ErrNotRecorded) {
		var zero T
		return zero, false, nil
	}
	return v, err == nil, err
}

package localnet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/votechain/votechain/internal/proc"
	"github.com/votechain/votechain/network"
)

// Deploy makes the chaincode binary in Config.Chaincode the one the channel
// runs. If the binary changed since the last deploy, it installs a new
// package on both peers, starts new chaincode servers beside the old ones,
// approves and commits the next sequence with both organisations, then stops
// the old servers; ledger data is kept. It reports whether it deployed.
func (n *Network) Deploy(ctx context.Context) (bool, error) {
	label, err := network.ChaincodeLabel(n.cfg.Chaincode)
	if err != nil {
		return false, err
	}
	old := n.state.Chaincode
	if label == old.Label {
		n.log.Info("chaincode unchanged, nothing to deploy", "label", label, "sequence", old.Sequence)
		return false, nil
	}
	next := chaincodeState{Label: label, Sequence: old.Sequence + 1, Slot: 0}
	if old.Sequence > 0 {
		next.Slot = 1 - old.Slot
	}
	n.log.Info("deploying chaincode", "label", label, "sequence", next.Sequence)

	ids, err := n.writePackages(label, next.Slot)
	if err != nil {
		return false, err
	}
	for i, o := range network.PeerOrgs() {
		if err := n.install(ctx, i, n.layout.ChaincodePackage(label, o.Name)); err != nil {
			return false, err
		}
	}
	next.PackageIDs = ids

	oldPIDs := map[string]proc.ID{}
	var servers []string
	for _, o := range network.PeerOrgs() {
		servers = append(servers, network.ChaincodeProcess(o))
		oldPIDs[network.ChaincodeProcess(o)] = n.state.PIDs[network.ChaincodeProcess(o)]
	}
	n.state.Chaincode = next
	if err := n.switchChaincode(ctx, next, servers); err != nil {
		// Roll back: stop whatever new server started, keep the old ones.
		for _, name := range servers {
			if n.state.PIDs[name] != oldPIDs[name] {
				_, _ = proc.Stop(n.state.PIDs[name], n.cfg.Chaincode, 5*time.Second)
			}
		}
		n.state.Chaincode, n.state.PIDs = old, mergePIDs(n.state.PIDs, oldPIDs)
		return false, errors.Join(err, n.saveState())
	}
	for name, id := range oldPIDs {
		out, err := proc.Stop(id, n.cfg.Chaincode, 5*time.Second)
		if err != nil {
			n.log.Warn("old chaincode server did not stop", "process", name, "pid", id.PID, "err", err)
			continue
		}
		LogStop(n.log, name+" (old)", id, out)
	}
	n.log.Info("chaincode deployed", "label", label, "sequence", next.Sequence)
	return true, errors.Join(n.saveState(), n.writeBundles())
}

// writePackages writes each organisation's package of the chaincode label,
// pointing its peer at its chaincode service in slot, and returns the
// package ids by organisation.
func (n *Network) writePackages(label string, slot int) (map[string]string, error) {
	if err := os.MkdirAll(n.layout.Packages(), 0o755); err != nil {
		return nil, err
	}
	ids := map[string]string{}
	for i, o := range network.PeerOrgs() {
		pkg, err := network.NewChaincodePackage(label, n.Hosts().Peer(i).Join(n.ports.ChaincodeServer(i, slot)))
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(n.layout.ChaincodePackage(label, o.Name), pkg.Data, 0o644); err != nil {
			return nil, err
		}
		ids[o.Name] = pkg.ID()
	}
	return ids, nil
}

// switchChaincode starts the new chaincode servers, then approves and commits
// their definition, after which the peers route invocations to them.
func (n *Network) switchChaincode(ctx context.Context, next chaincodeState, servers []string) error {
	if err := n.startAll(ctx, servers); err != nil {
		return err
	}
	return n.approveAndCommit(ctx, next)
}

func mergePIDs(into, from map[string]proc.ID) map[string]proc.ID {
	for k, v := range from {
		if v.PID == 0 {
			delete(into, k)
		} else {
			into[k] = v
		}
	}
	return into
}

// install installs a package on the i-th organisation's peer; a package that
// is already installed counts as success.
func (n *Network) install(ctx context.Context, i int, file string) error {
	out, err := proc.Run(ctx, n.peerAdminEnv(i), n.bin("peer"), "lifecycle", "chaincode", "install", file)
	if err != nil && !strings.Contains(string(out), "already successfully installed") {
		return fmt.Errorf("install chaincode on %s: %w", network.PeerOrgs()[i].Name, err)
	}
	return nil
}

// approveAndCommit approves the definition for both organisations, then
// commits it with endorsements from both peers.
func (n *Network) approveAndCommit(ctx context.Context, cc chaincodeState) error {
	definition := network.ChaincodeDefinitionArgs(cc.Label, cc.Sequence)
	err := parallel(len(network.PeerOrgs()), func(i int) error {
		args := append([]string{"lifecycle", "chaincode", "approveformyorg", "--package-id", cc.PackageIDs[network.PeerOrgs()[i].Name]}, definition...)
		return n.retryPeer(ctx, n.peerAdminEnv(i), "redefine uncommitted sequence", args...)
	})
	if err != nil {
		return fmt.Errorf("approve chaincode definition: %w", err)
	}
	args := append([]string{"lifecycle", "chaincode", "commit"}, definition...)
	args = append(args, network.CommitPeerArgs(n.layout, n.ports, n.Hosts())...)
	if err := n.retryPeer(ctx, n.peerAdminEnv(0), "new definition must be sequence", args...); err != nil {
		return fmt.Errorf("commit chaincode definition: %w", err)
	}
	return nil
}

// retryPeer runs a peer CLI transaction with the orderer flags, retrying while
// the ordering service elects its first leader. Output containing done means
// an earlier attempt already took effect.
func (n *Network) retryPeer(ctx context.Context, env []string, done string, args ...string) error {
	deadline := time.Now().Add(60 * time.Second)
	for attempt := 1; ; attempt++ {
		out, err := proc.Run(ctx, env, n.bin("peer"), append(args, n.ordererFlags(ctx)...)...)
		if err == nil || strings.Contains(string(out), done) {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return errors.Join(err, ctx.Err())
		}
		n.log.Debug("retrying", "command", strings.Join(args[:3], " "), "attempt", attempt, "err", err)
		time.Sleep(500 * time.Millisecond)
	}
}

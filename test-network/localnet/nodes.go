package localnet

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"strings"
	"time"

	"github.com/votechain/votechain/internal/proc"
	"github.com/votechain/votechain/internal/rundir"
	"github.com/votechain/votechain/network"
)

// processes is every long-running process of the instance, by name. The
// chaincode servers run the build recorded in the state (slot and package id).
// Each runs on its host (Config.Hosts), in the host's namespace if it has one.
func (n *Network) processes() map[string]proc.Spec {
	out := map[string]proc.Spec{}
	hosts := n.Hosts()
	for i := 0; i < network.OrdererCount; i++ {
		name := network.OrdererProcess(i)
		listen, _, _ := n.ports.Orderer(i)
		h := hosts.Orderer(i)
		out[name] = proc.Spec{Name: name, Bin: n.bin("orderer"), Port: listen, Addr: h.Addr, Netns: n.cfg.Netns[h.Name],
			Env: network.OrdererEnv("FABRIC_CFG_PATH=" + n.nodeLayout(h).NodeConfigDir(name))}
	}
	for i, o := range network.PeerOrgs() {
		name := network.PeerProcess(o)
		listen, _, _ := n.ports.Peer(i)
		h := hosts.Peer(i)
		out[name] = proc.Spec{Name: name, Bin: n.bin("peer"), Args: []string{"node", "start"}, Port: listen, Addr: h.Addr, Netns: n.cfg.Netns[h.Name],
			Env: network.NodeEnv(network.PeerGCPercent, "FABRIC_CFG_PATH="+n.nodeLayout(h).NodeConfigDir(name))}
		if id := n.state.Chaincode.PackageIDs[o.Name]; id != "" {
			cc := network.ChaincodeProcess(o)
			port := n.ports.ChaincodeServer(i, n.state.Chaincode.Slot)
			out[cc] = proc.Spec{Name: cc, Bin: n.cfg.Chaincode, Port: port, Addr: h.Addr, Netns: n.cfg.Netns[h.Name], Env: network.NodeEnv(network.ChaincodeGCPercent,
				"CHAINCODE_ID="+id,
				"CHAINCODE_SERVER_ADDRESS="+h.Join(port),
			)}
		}
	}
	return out
}

// nodeLayout is where the nodes on host h find their configuration: the
// host's bundle if the instance runs from bundles, else the instance's folder.
func (n *Network) nodeLayout(h network.Host) network.Layout {
	if n.state.Bundles {
		return network.Layout{Dir: n.layout.Bundle(h.Name)}
	}
	return n.layout
}

// writeBundles writes the per-host bundles if the instance runs from them.
func (n *Network) writeBundles() error {
	if !n.state.Bundles {
		return nil
	}
	spec := network.BundleSpec{Ports: n.ports, Hosts: n.Hosts(), Consensus: n.state.Consensus, FabricConfig: filepath.Join(n.cfg.FabricBin, "config"), Builder: n.cfg.Builder, Log: n.log}
	if root := n.cfg.BundleRoot; root != "" {
		spec.Root = func(network.Host) string { return root }
	}
	if cc := n.state.Chaincode; cc.Sequence > 0 {
		spec.Chaincode = &network.BundleChaincode{Label: cc.Label, Sequence: cc.Sequence, Slot: cc.Slot, PackageIDs: cc.PackageIDs}
	}
	return network.WriteBundles(n.layout, spec)
}

// nodeAddrs maps each orderer and peer process to its host's address.
func (n *Network) nodeAddrs() map[string]string {
	out := map[string]string{}
	for i := 0; i < network.OrdererCount; i++ {
		out[network.OrdererProcess(i)] = n.Hosts().Orderer(i).Addr
	}
	for i, o := range network.PeerOrgs() {
		out[network.PeerProcess(o)] = n.Hosts().Peer(i).Addr
	}
	return out
}

// processNames lists the processes in start order: orderers, peers, chaincode.
func (n *Network) processNames() []string {
	var names []string
	for i := 0; i < network.OrdererCount; i++ {
		names = append(names, network.OrdererProcess(i))
	}
	for _, o := range network.PeerOrgs() {
		names = append(names, network.PeerProcess(o))
	}
	for _, o := range network.PeerOrgs() {
		if n.state.Chaincode.PackageIDs[o.Name] != "" {
			names = append(names, network.ChaincodeProcess(o))
		}
	}
	return names
}

// create builds a new instance: crypto material, channel genesis block, node
// configuration, processes, channel membership and the chaincode.
func (n *Network) create(ctx context.Context) error {
	n.log.Info("creating network", "dir", n.cfg.Dir, "port_base", n.cfg.PortBase, "consensus", n.state.Consensus)
	if err := n.generate(ctx); err != nil {
		return err
	}
	if err := n.writeBundles(); err != nil {
		return err
	}
	if err := n.saveState(); err != nil {
		return err
	}
	if err := n.startAll(ctx, n.processNames()); err != nil {
		return err
	}
	if err := n.joinChannel(ctx); err != nil {
		return err
	}
	if _, err := n.Deploy(ctx); err != nil {
		return err
	}
	n.state.Created = true
	return n.saveState()
}

// Generate writes a new instance's files and starts nothing: crypto
// material, the genesis block, node configurations, connection profiles,
// the chaincode packages of Config.Chaincode (as sequence 1) and, with
// Config.Bundles, a bundle per host. It is for a deployment whose nodes
// run on other machines, each host's from its bundle (see
// docs/operations.md); such a folder cannot be brought up here.
func (n *Network) Generate(ctx context.Context) error {
	if err := n.checkPrerequisites(); err != nil {
		return err
	}
	if err := n.checkFreshDir(); err != nil {
		return err
	}
	n.log.Info("generating network", "dir", n.cfg.Dir, "port_base", n.cfg.PortBase, "consensus", n.state.Consensus, "hosts", n.Hosts().Hosts())
	if err := n.generate(ctx); err != nil {
		return err
	}
	label, err := network.ChaincodeLabel(n.cfg.Chaincode)
	if err != nil {
		return err
	}
	ids, err := n.writePackages(label, 0)
	if err != nil {
		return err
	}
	n.state.Chaincode = chaincodeState{Label: label, Sequence: 1, PackageIDs: ids}
	n.state.Generated = true
	return errors.Join(n.writeBundles(), n.saveState())
}

// generate writes a new instance's files: crypto material, genesis block,
// node configurations and connection profiles.
func (n *Network) generate(ctx context.Context) error {
	if err := rundir.Make(n.cfg.Dir, nil, nil); err != nil { // the callers have checked it is empty or absent
		return err
	}
	l := n.layout
	if err := network.WriteCryptoConfig(l, n.Hosts()); err != nil {
		return err
	}
	if _, err := proc.Run(ctx, nil, n.bin("cryptogen"), "generate", "--config", l.CryptoConfig(), "--output", l.Crypto()); err != nil {
		return err
	}
	if err := network.RestrictKeys(l); err != nil {
		return err
	}
	if err := network.WriteTLSRootBundles(l); err != nil {
		return err
	}
	if err := network.WriteConfigtx(l, n.ports, n.Hosts(), n.state.Consensus); err != nil {
		return err
	}
	if _, err := proc.Run(ctx, []string{"FABRIC_CFG_PATH=" + l.ConfigtxDir()}, n.bin("configtxgen"),
		"-profile", network.ChannelProfile, "-channelID", network.ChannelName, "-outputBlock", l.GenesisBlock()); err != nil {
		return err
	}
	if err := n.writeNodeConfigs(); err != nil {
		return err
	}
	profile, err := network.BuildProfile(l, n.ports, n.Hosts(), n.state.Consensus)
	if err != nil {
		return err
	}
	if err := profile.Save(l.Profile()); err != nil {
		return err
	}
	return profile.SaveComponents(l)
}

// writeNodeConfigs writes each node's core.yaml or orderer.yaml from Fabric's
// sample files with the project's settings.
func (n *Network) writeNodeConfigs() error {
	sample := func(f string) string { return filepath.Join(n.cfg.FabricBin, "config", f) }
	for i := 0; i < network.OrdererCount; i++ {
		dst := filepath.Join(n.layout.NodeConfigDir(network.OrdererProcess(i)), "orderer.yaml")
		settings := network.OrdererSettings(n.layout, n.ports, n.Hosts(), i)
		if n.cfg.Pprof {
			maps.Copy(settings, network.OrdererPprofSettings(n.ports, i))
		}
		if err := network.PatchYAML(sample("orderer.yaml"), dst, settings); err != nil {
			return err
		}
	}
	for i, o := range network.PeerOrgs() {
		dst := filepath.Join(n.layout.NodeConfigDir(network.PeerProcess(o)), "core.yaml")
		settings := network.PeerSettings(n.layout, n.ports, n.Hosts(), i, n.cfg.Builder)
		maps.Copy(settings, network.PeerConnectionSettings())
		if n.cfg.Pprof {
			maps.Copy(settings, network.PeerPprofSettings(n.ports, i))
		}
		if err := network.PatchYAML(sample("core.yaml"), dst, settings); err != nil {
			return err
		}
	}
	return nil
}

// parallel runs f for 0..count-1 concurrently and joins the errors.
func parallel(count int, f func(i int) error) error {
	errs := make(chan error, count)
	for i := 0; i < count; i++ {
		go func() { errs <- f(i) }()
	}
	var first error
	for i := 0; i < count; i++ {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// joinChannel joins the four orderers (channel participation API, each by
// its own organisation's orderer admin) and both peers to the election channel.
// An orderer accepts gRPC connections (what start-up waits for) a moment
// before its admin endpoint does, so a refused join is tried again for a
// few seconds.
func (n *Network) joinChannel(ctx context.Context) error {
	err := parallel(network.OrdererCount, func(i int) error {
		deadline := time.Now().Add(10 * time.Second)
		for {
			out, err := proc.Run(ctx, nil, n.bin("osnadmin"), network.OrdererJoinArgs(n.layout, n.ports, n.Hosts(), i)...)
			if err == nil || !strings.Contains(string(out), "connection refused") || time.Now().After(deadline) {
				return err
			}
			time.Sleep(200 * time.Millisecond)
		}
	})
	if err != nil {
		return fmt.Errorf("join orderers to %s: %w", network.ChannelName, err)
	}
	n.log.Info("orderers joined the channel", "channel", network.ChannelName, "consensus", n.state.Consensus)
	err = parallel(len(network.PeerOrgs()), func(i int) error {
		_, err := proc.Run(ctx, n.peerAdminEnv(i), n.bin("peer"), "channel", "join", "-b", n.layout.GenesisBlock())
		return err
	})
	if err != nil {
		return fmt.Errorf("join peers to %s: %w", network.ChannelName, err)
	}
	n.log.Info("peers joined the channel", "channel", network.ChannelName)
	return nil
}

// peerAdminEnv is the environment for the peer CLI acting as the admin of the
// i-th organisation against its own peer.
func (n *Network) peerAdminEnv(i int) []string {
	return network.PeerAdminEnv(n.layout, n.ports, n.Hosts(), i)
}

// ordererFlags point a peer CLI command at the consensus leader if an
// orderer says it leads, else at the first live orderer (orderer0 if none is
// known to run). The peer CLI sends to one orderer, and a SmartBFT follower
// passes a request on to the leader only after the request forward timeout.
func (n *Network) ordererFlags(ctx context.Context) []string {
	leader, firstLive := n.leaderIndex(ctx)
	if leader < 0 {
		leader = firstLive
	}
	return network.OrdererArgs(n.layout, n.ports, n.Hosts(), max(leader, 0))
}

// Leader is the running orderer whose metrics say it leads the channel (the
// Raft leader, or under SmartBFT the leader as of its last block written),
// and whether one does. It scrapes only the running orderers, in order,
// until one leads: cheap enough to poll during a failover.
func (n *Network) Leader(ctx context.Context) (name string, ok bool) {
	if i, _ := n.leaderIndex(ctx); i >= 0 {
		return network.OrdererProcess(i), true
	}
	return "", false
}

// leaderIndex is the index of the first running orderer that says it leads
// (-1 if none does) and of the first running orderer (-1 if none runs).
func (n *Network) leaderIndex(ctx context.Context) (leader, firstLive int) {
	firstLive = -1
	for i := 0; i < network.OrdererCount; i++ {
		if !n.running(network.OrdererProcess(i)) {
			continue
		}
		if firstLive < 0 {
			firstLive = i
		}
		_, _, ops := n.ports.Orderer(i)
		if isLeader(scrape(ctx, n.Hosts().Orderer(i).Join(ops))) {
			return i, firstLive
		}
	}
	return -1, firstLive
}

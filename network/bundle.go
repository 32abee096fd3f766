package network

import (
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/votechain/votechain/internal/redisserver"
)

// Bundles: for each host of a Placement, one folder with exactly what an
// operator copies to that machine. An organisation's host gets its own
// nodes' crypto material (MSP and TLS keys of its orderers and peer), its
// admins' identities, the TLS root bundles, the channel's genesis block,
// every node's configuration, the external builder and chaincode package,
// a run script that starts one node in the foreground, and a setup script
// with its admin's steps (join the channel, install and approve the
// chaincode). The clients' host gets the connection profiles of the
// client-side components with only the files they name, and its Redis
// users (BundleRedisDir: the ACL file redis-server loads and each
// component's password file). No bundle holds another organisation's
// private key or a CA's key.

// BundleSpec is what WriteBundles needs besides the network's files.
type BundleSpec struct {
	Ports        Ports
	Hosts        Placement
	Consensus    Consensus // the channel's, recorded in the connection profiles
	FabricConfig string    // folder with Fabric's sample core.yaml and orderer.yaml
	Builder      string    // the external builder folder, copied into each organisation's bundle
	// Chaincode is the deployed chaincode; nil before the first deploy.
	Chaincode *BundleChaincode
	// Root is where each host's bundle will live on its machine (every path
	// in its files starts there); nil or "" means the bundle's folder here,
	// so the bundle also runs in place.
	Root func(h Host) string
	// Log gets the notices of the files written, such as the removal of a
	// Redis password file's copy an interrupted write left
	// (redisserver.ACL.Ensure); nil discards them.
	Log *slog.Logger
}

// BundleChaincode is one deployed chaincode definition.
type BundleChaincode struct {
	Label      string
	Sequence   int64
	Slot       int               // ChaincodeServer slot its services listen on
	PackageIDs map[string]string // by organisation name
}

// Bundle scripts and files, relative to a bundle's folder.
const (
	BundleRunScript   = "run.sh"
	BundleSetupScript = "setup.sh"
	BundleHostsFile   = "hosts" // lines for /etc/hosts: every host's address and name
	BundleRedisDir    = "redis" // the clients' host's Redis ACL (redisserver.ACL)
)

// WriteBundles writes one bundle per host of spec.Hosts from the network
// files under l, each into l.Bundle(host name), overwriting the files it
// writes (a bundle the nodes run from in place keeps their ledgers).
func WriteBundles(l Layout, spec BundleSpec) error {
	for _, h := range spec.Hosts.Hosts() {
		dir := l.Bundle(h.Name)
		root := dir
		if spec.Root != nil && spec.Root(h) != "" {
			root = spec.Root(h)
		}
		b := bundle{src: l, dst: Layout{Dir: dir}, at: Layout{Dir: root}, spec: spec, host: h}
		if err := b.write(); err != nil {
			return fmt.Errorf("bundle of host %s: %w", h.Name, err)
		}
	}
	return nil
}

// bundle writes one host's bundle: files copied from src into dst, naming
// paths under at (the folder the bundle will be in on its machine). The
// scripts name them under sh, "$R", which they set to at.
type bundle struct {
	src, dst, at Layout
	spec         BundleSpec
	host         Host
}

// sh is the bundle's folder as its scripts name it.
var sh = Layout{Dir: "$R"}

// scriptHead starts a bundle script: what it is, how to call it, and R.
func (b bundle) scriptHead(what string, usage ...string) []string {
	head := []string{"#!/bin/sh", fmt.Sprintf("# Votechain host %s (%s): %s", b.host.Name, b.host.Addr, what)}
	for _, u := range usage {
		head = append(head, "# "+u)
	}
	return append(head, "set -eu",
		"R="+shellQuote(b.at.Dir)+" # this bundle's folder on this machine",
		`fabric() { echo "${FABRIC_BIN:?set FABRIC_BIN to the folder with Fabric's binaries}/$1"; }`)
}

func (b bundle) write() error {
	all := PeerOrgs()
	var orgs []int // indexes in PeerOrgs of those on this host
	for i := range all {
		if b.spec.Hosts.Peer(i) == b.host {
			orgs = append(orgs, i)
		}
	}
	// Every host gets the channel's genesis block: its peers join with it,
	// and its explorer checks the chain it reads against it.
	copies := []string{b.src.GenesisBlock()} // paths under src
	for _, i := range orgs {
		o := all[i]
		for j := 0; j < OrdererCount; j++ {
			if OrdererOrg(j) == o {
				copies = append(copies, b.src.OrdererNode(j))
			}
		}
		cert, _ := b.src.OrdererAdminTLS(o)
		copies = append(copies, b.src.PeerNode(o), filepath.Dir(b.src.UserMSP(o, "Admin")), filepath.Dir(filepath.Dir(cert)),
			b.src.TLSRootBundle(), b.src.OrdererTLSRoots())
		for _, other := range all {
			copies = append(copies, b.src.PeerTLSCA(other)) // named in the chaincode commit
		}
	}
	profiles := map[string]Profile{}
	for _, c := range Components() {
		if b.componentHost(c) != b.host {
			continue
		}
		p, err := b.profile(c)
		if err != nil {
			return err
		}
		profiles[c.Name] = p
		copies = append(copies, p.Files()...)
	}
	for _, path := range copies {
		if err := b.copy(path); err != nil {
			return err
		}
	}
	for name, p := range profiles {
		if err := os.MkdirAll(filepath.Dir(b.dst.ComponentProfile(name)), 0o700); err != nil {
			return err
		}
		if err := p.relocate(b.src.Dir, b.at.Dir).Save(b.dst.ComponentProfile(name)); err != nil {
			return err
		}
	}
	if len(orgs) > 0 {
		if err := b.writeOrgFiles(orgs); err != nil {
			return err
		}
	}
	if b.host == b.spec.Hosts.Clients {
		// Passwords made once: a bundle written again keeps them.
		acl := redisserver.ACL{Dir: filepath.Join(b.dst.Dir, BundleRedisDir)}
		if err := acl.Ensure(b.spec.Log, b.host.Join(b.spec.Ports.Redis())); err != nil {
			return fmt.Errorf("redis users: %w", err)
		}
	}
	return os.WriteFile(filepath.Join(b.dst.Dir, BundleHostsFile), []byte(b.hostsFile()), 0o644)
}

// componentHost is where a component runs: an admin on its organisation's
// host, every other component on the clients' host.
func (b bundle) componentHost(c Component) Host {
	if c.User == "Admin" {
		return b.spec.Hosts.Orgs[c.Org]
	}
	return b.spec.Hosts.Clients
}

func (b bundle) profile(c Component) (Profile, error) {
	full, err := BuildProfile(b.src, b.spec.Ports, b.spec.Hosts, b.spec.Consensus)
	if err != nil {
		return Profile{}, err
	}
	return full.For(c)
}

// copy copies a file or folder from under src to the same place under dst.
func (b bundle) copy(path string) error {
	rel, err := filepath.Rel(b.src.Dir, path)
	if err != nil || strings.HasPrefix(rel, "..") {
		return fmt.Errorf("%s is not in the network folder %s", path, b.src.Dir)
	}
	return copyTree(path, filepath.Join(b.dst.Dir, rel))
}

func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		return os.WriteFile(target, data, info.Mode().Perm())
	})
}

// writeOrgFiles writes the node configurations, builder, chaincode
// packages and scripts of the organisations orgs on this host.
func (b bundle) writeOrgFiles(orgs []int) error {
	sample := func(f string) string { return filepath.Join(b.spec.FabricConfig, f) }
	builder := filepath.Join(b.dst.Dir, "builder")
	if err := copyTree(b.spec.Builder, builder); err != nil {
		return err
	}
	run := append(b.scriptHead("runs one node in the foreground.",
		"FABRIC_BIN: folder with Fabric's orderer and peer; BALLOTCC: the chaincode service",
		"binary (bin/ballotcc). Run each node under a supervisor (systemd) or with nohup."), `case "${1:-}" in`)
	var nodes []string
	all := PeerOrgs()
	for _, i := range orgs {
		o := all[i]
		for j := 0; j < OrdererCount; j++ {
			if OrdererOrg(j) != o {
				continue
			}
			name := OrdererProcess(j)
			if err := PatchYAML(sample("orderer.yaml"), filepath.Join(b.dst.NodeConfigDir(name), "orderer.yaml"), OrdererSettings(b.at, b.spec.Ports, b.spec.Hosts, j)); err != nil {
				return err
			}
			nodes = append(nodes, name)
			run = append(run, fmt.Sprintf(`%s) export FABRIC_CFG_PATH=%s GOGC="${GOGC:-%d}" GODEBUG="${GODEBUG:-%s}" FABRIC_LOGGING_SPEC="${FABRIC_LOGGING_SPEC:-%s}"; exec "$(fabric orderer)" ;;`, name, shellArgs(sh.NodeConfigDir(name)), OrdererGCPercent, NodeGODEBUG, OrdererLogSpec))
		}
		name := PeerProcess(o)
		settings := PeerSettings(b.at, b.spec.Ports, b.spec.Hosts, i, filepath.Join(b.at.Dir, "builder"))
		maps.Copy(settings, PeerConnectionSettings())
		if err := PatchYAML(sample("core.yaml"), filepath.Join(b.dst.NodeConfigDir(name), "core.yaml"), settings); err != nil {
			return err
		}
		nodes = append(nodes, name)
		run = append(run, fmt.Sprintf(`%s) export FABRIC_CFG_PATH=%s GOGC="${GOGC:-%d}" GODEBUG="${GODEBUG:-%s}"; exec "$(fabric peer)" node start ;;`, name, shellArgs(sh.NodeConfigDir(name)), PeerGCPercent, NodeGODEBUG))
		if cc := b.spec.Chaincode; cc != nil {
			if err := b.copy(b.src.ChaincodePackage(cc.Label, o.Name)); err != nil {
				return err
			}
			name := ChaincodeProcess(o)
			nodes = append(nodes, name)
			run = append(run, fmt.Sprintf(`%s) export CHAINCODE_ID=%s CHAINCODE_SERVER_ADDRESS=%s GOGC="${GOGC:-%d}" GODEBUG="${GODEBUG:-%s}"; exec "${BALLOTCC:?set BALLOTCC to the chaincode service binary}" ;;`,
				name, cc.PackageIDs[o.Name], b.spec.Hosts.Peer(i).Join(b.spec.Ports.ChaincodeServer(i, cc.Slot)), ChaincodeGCPercent, NodeGODEBUG))
		}
	}
	run = append(run, fmt.Sprintf(`*) echo "usage: $0 %s" >&2; exit 2 ;;`, strings.Join(nodes, "|")), "esac", "")
	if err := os.WriteFile(filepath.Join(b.dst.Dir, BundleRunScript), []byte(strings.Join(run, "\n")), 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(b.dst.Dir, BundleSetupScript), []byte(b.setupScript(orgs)), 0o755)
}

// setupScript is the admin's part of the bring-up for the organisations
// on this host, run once every node of the consortium is running.
func (b bundle) setupScript(orgs []int) string {
	s := b.scriptHead("the organisation admin's steps, once every node",
		"of the consortium runs (run.sh on each host). FABRIC_BIN: folder with Fabric's peer and osnadmin.",
		"Usage: setup.sh join | setup.sh chaincode | setup.sh commit (one organisation, after every",
		"organisation has run setup.sh chaincode).")
	add := func(lines ...string) { s = append(s, lines...) }
	all := PeerOrgs()
	add(`case "${1:-}" in`, "join)")
	for _, i := range orgs {
		for j := 0; j < OrdererCount; j++ {
			if OrdererOrg(j) == all[i] {
				add(`  "$(fabric osnadmin)" ` + shellArgs(OrdererJoinArgs(sh, b.spec.Ports, b.spec.Hosts, j)...))
			}
		}
		add(fmt.Sprintf(`  env %s "$(fabric peer)" channel join -b %s`, shellArgs(PeerAdminEnv(sh, b.spec.Ports, b.spec.Hosts, i)...), shellArgs(sh.GenesisBlock())))
	}
	add("  ;;", "chaincode)")
	cc := b.spec.Chaincode
	if cc == nil {
		add(`  echo "no chaincode was deployed when this bundle was written" >&2; exit 1`)
	}
	first := 0
	for j := 0; j < OrdererCount; j++ {
		if b.spec.Hosts.Orderer(j) == b.host {
			first = j
			break
		}
	}
	orderer := shellArgs(OrdererArgs(sh, b.spec.Ports, b.spec.Hosts, first)...)
	for _, i := range orgs {
		if cc == nil {
			break
		}
		env := shellArgs(PeerAdminEnv(sh, b.spec.Ports, b.spec.Hosts, i)...)
		o := all[i]
		add(fmt.Sprintf(`  env %s "$(fabric peer)" lifecycle chaincode install %s ||`, env, shellArgs(sh.ChaincodePackage(cc.Label, o.Name))),
			fmt.Sprintf(`    env %s "$(fabric peer)" lifecycle chaincode queryinstalled | grep -qF %s # installed before`, env, shellArgs(cc.PackageIDs[o.Name])),
			fmt.Sprintf(`  env %s "$(fabric peer)" lifecycle chaincode approveformyorg --package-id %s %s %s`, env, cc.PackageIDs[o.Name],
				shellArgs(ChaincodeDefinitionArgs(cc.Label, cc.Sequence)...), orderer))
	}
	add("  ;;", "commit)")
	if cc != nil && len(orgs) > 0 {
		add(fmt.Sprintf(`  env %s "$(fabric peer)" lifecycle chaincode commit %s %s %s`, shellArgs(PeerAdminEnv(sh, b.spec.Ports, b.spec.Hosts, orgs[0])...),
			shellArgs(ChaincodeDefinitionArgs(cc.Label, cc.Sequence)...), shellArgs(CommitPeerArgs(sh, b.spec.Ports, b.spec.Hosts)...), orderer))
	}
	add("  ;;", `*) echo "usage: $0 join|chaincode|commit" >&2; exit 2 ;;`, "esac", "")
	return strings.Join(s, "\n")
}

// hostsFile lists every host of the placement for /etc/hosts.
func (b bundle) hostsFile() string {
	var lines []string
	for _, h := range b.spec.Hosts.Hosts() {
		lines = append(lines, h.Addr+"\t"+h.Name)
	}
	return strings.Join(lines, "\n") + "\n"
}

// shellArgs quotes args for a POSIX shell, leaving the bundle folder
// ("$R", see sh) to expand.
func shellArgs(args ...string) string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = shellQuote(a)
		if strings.Contains(a, sh.Dir) {
			out[i] = strings.ReplaceAll(out[i], sh.Dir, `'"$R"'`)
			out[i] = strings.TrimPrefix(strings.TrimSuffix(out[i], "''"), "''")
		}
	}
	return strings.Join(out, " ")
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// Files lists every file the profile names (TLS roots, certificates, keys).
func (p Profile) Files() []string {
	var out []string
	for _, name := range slices.Sorted(maps.Keys(p.Orgs)) {
		op := p.Orgs[name]
		out = append(out, op.Peer.TLSRootPEM)
		for _, id := range op.Users {
			out = append(out, id.Cert, id.Key)
		}
	}
	for _, o := range p.Orderers {
		out = append(out, o.TLSRootPEM)
	}
	return out
}

// relocate returns the profile with every path under from moved under to.
func (p Profile) relocate(from, to string) Profile {
	move := func(path string) string {
		if rel, err := filepath.Rel(from, path); err == nil && !strings.HasPrefix(rel, "..") {
			return filepath.Join(to, rel)
		}
		return path
	}
	out := p
	out.Orgs = map[string]OrgProfile{}
	for name, op := range p.Orgs {
		op.Peer.TLSRootPEM = move(op.Peer.TLSRootPEM)
		users := map[string]Identity{}
		for u, id := range op.Users {
			users[u] = Identity{Cert: move(id.Cert), Key: move(id.Key)}
		}
		op.Users = users
		out.Orgs[name] = op
	}
	out.Orderers = nil
	for _, o := range p.Orderers {
		o.TLSRootPEM = move(o.TLSRootPEM)
		out.Orderers = append(out.Orderers, o)
	}
	return out
}

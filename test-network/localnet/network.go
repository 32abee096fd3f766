// Package localnet runs the Votechain consortium on one machine as native
// processes: four orderers (two per organisation, SmartBFT or Raft), one peer
// per organisation and one chaincode service per organisation, with TLS everywhere and the election channel
// created through the channel participation API. It brings the network up
// (idempotently), deploys the chaincode, reports status and tears it down,
// stopping every process it started by PID.
package localnet

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"syscall"
	"time"

	"github.com/votechain/votechain/internal/proc"
	"github.com/votechain/votechain/internal/rundir"
	"github.com/votechain/votechain/network"
)

// Config says where a network instance lives and what it runs.
type Config struct {
	Dir string // run folder for crypto, ledgers, logs and state (git-ignored)
	// PortBase is the first port of the instance's port plan
	// (network.Ports). Zero means the one the instance was created with,
	// or network.DefaultPortBase for a new one; an existing instance keeps
	// its own: another one is an error (New).
	PortBase  int
	FabricBin string // folder with peer, orderer, configtxgen, cryptogen, osnadmin and config/
	Chaincode string // the chaincode service binary (cmd/ballotcc)
	Builder   string // the external builder folder (network/builder)
	// Consensus of a new instance; empty means network.DefaultConsensus. An
	// existing instance keeps the consensus it was created with: asking for
	// another one is an error.
	Consensus network.Consensus
	// Hosts places the nodes on hosts (network.Placement); the zero value is
	// network.OneHost, every node on 127.0.0.1. An existing instance keeps
	// the placement it was created with.
	Hosts network.Placement
	// Netns maps a host's name to the Linux network namespace its nodes run
	// in (a test standing in for separate machines, see Config.Hosts); the
	// nodes of a host not in it run in the caller's namespace. Bundles
	// (network.WriteBundles) are what real machines run instead.
	Netns map[string]string
	// Bundles makes the instance write a bundle per host (network.WriteBundles,
	// under Dir/bundles) and run each node from its host's bundle, as the
	// host's machine would. An existing instance keeps what it was created with.
	Bundles bool
	// BundleRoot is the folder each bundle will be copied to on its
	// machine: the paths in its files start there. Empty means where the
	// bundle is written, so it also runs in place.
	BundleRoot string
	// Priority is the CPU priority of every node and chaincode server
	// (proc.Spec.Priority); the zero value runs them at the caller's.
	Priority proc.Priority
	// Pprof turns on every node's Go pprof service on 127.0.0.1 at its
	// port in the plan (network.PeerPprofSettings, OrdererPprofSettings);
	// New also turns it on when network.NodePprofEnv asks. The setting is
	// written when a node's configuration is, at creation and before
	// restarting an instance whose nodes run from its own folder.
	Pprof bool
	Log   *slog.Logger // progress; nil discards
}

// recorded is the part of state.json that names the instance's running
// processes, which RecordedPIDs reads alone.
type recorded struct {
	PIDs map[string]proc.ID `json:"pids"` // a bare number: recorded before start times were kept
}

// RecordedPIDs decodes the processes an instance's state file (state.json
// in its folder, its content data) records, by node name, and nothing else
// of it: what stops a folder's processes whatever port plan or version made
// it (internal/stack's StopRecorded) needs no instance opened.
func RecordedPIDs(data []byte) (map[string]proc.ID, error) {
	var r recorded
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, err
	}
	return r.PIDs, nil
}

// state is what the instance remembers between commands (state.json).
type state struct {
	PortBase  int                `json:"port_base"`
	Consensus network.Consensus  `json:"consensus"`
	Hosts     *network.Placement `json:"hosts,omitempty"`     // absent: network.OneHost
	Bundles   bool               `json:"bundles,omitempty"`   // nodes run from their host's bundle
	Generated bool               `json:"generated,omitempty"` // files only, for other machines (Generate)
	Created   bool               `json:"created"`             // channel joined and chaincode committed
	recorded
	Chaincode chaincodeState `json:"chaincode"`
}

type chaincodeState struct {
	Label      string            `json:"label"`
	Sequence   int64             `json:"sequence"`
	Slot       int               `json:"slot"`
	PackageIDs map[string]string `json:"package_ids"` // by organisation name
}

// Network is one instance of the consortium.
type Network struct {
	cfg    Config
	layout network.Layout
	ports  network.Ports
	log    *slog.Logger
	state  state
}

// New prepares a handle on the instance in cfg.Dir; it starts nothing.
func New(cfg Config) (*Network, error) {
	for name, p := range map[string]*string{"Dir": &cfg.Dir, "FabricBin": &cfg.FabricBin, "Chaincode": &cfg.Chaincode, "Builder": &cfg.Builder} {
		if *p == "" {
			return nil, fmt.Errorf("localnet: Config.%s is required", name)
		}
		abs, err := filepath.Abs(*p)
		if err != nil {
			return nil, err
		}
		*p = abs
	}
	if _, err := network.ParseConsensus(string(cfg.Consensus)); err != nil {
		return nil, err
	}
	if cfg.Hosts.Orgs == nil {
		cfg.Hosts = network.OneHost()
	}
	cfg.Pprof = cfg.Pprof || network.NodePprofFromEnv()
	if err := cfg.Hosts.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	n := &Network{cfg: cfg, layout: network.Layout{Dir: cfg.Dir}, log: log}
	if err := n.loadState(); err != nil {
		return nil, err
	}
	if err := n.resolvePortBase(); err != nil {
		return nil, err
	}
	return n, nil
}

// resolvePortBase sets the port plan to the base the state holds (the
// recorded one, or for a new instance Config.PortBase or the default),
// refusing a Config.PortBase other than the recorded one: every command
// on an instance (status, the stack's close and finalise) must reach the
// ports its processes listen on, not those of the flag's default.
func (n *Network) resolvePortBase() error {
	if n.cfg.PortBase != 0 && n.cfg.PortBase != n.state.PortBase {
		return fmt.Errorf("the instance in %s was created with port base %d, not %d: leave --port-base out (the recorded %d is taken) or use --port-base %d, or %s",
			n.cfg.Dir, n.state.PortBase, n.cfg.PortBase, n.state.PortBase, n.state.PortBase, n.wipeAdvice())
	}
	n.cfg.PortBase = n.state.PortBase
	n.ports = network.Ports{Base: n.state.PortBase}
	if err := n.ports.Validate(); err != nil {
		return n.unreadable(fmt.Sprintf("%s records %v", n.layout.State(), err))
	}
	return nil
}

// Layout names the instance's files.
func (n *Network) Layout() network.Layout { return n.layout }

// Consensus is the instance's consensus: the one it was created with, or
// the one it will be created with.
func (n *Network) Consensus() network.Consensus { return n.state.Consensus }

// Ports is the instance's port plan: from the base it was created with,
// or, for a new instance, the one it will be created with.
func (n *Network) Ports() network.Ports { return n.ports }

// Hosts is the instance's placement: the one it was created with, or the
// one it will be created with.
func (n *Network) Hosts() network.Placement {
	if n.state.Hosts == nil {
		return network.OneHost()
	}
	return *n.state.Hosts
}

// Profile reads the connection profile written at bring-up.
func (n *Network) Profile() (network.Profile, error) { return network.LoadProfile(n.layout.Profile()) }

func (n *Network) loadState() error {
	data, err := os.ReadFile(n.layout.State())
	if errors.Is(err, os.ErrNotExist) {
		n.state = n.freshState()
		return nil
	}
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, &n.state); err != nil {
		return n.unreadable(fmt.Sprintf("%s is damaged (%v)", n.layout.State(), err))
	}
	if n.state.PIDs == nil {
		n.state.PIDs = map[string]proc.ID{}
	}
	if n.state.Consensus == "" {
		return &UnreadableError{Problem: fmt.Sprintf("the instance in %s was created by an older version (three orderers of one organisation)", n.cfg.Dir), Advice: n.wipeAdvice() + ", and run up again"}
	}
	return nil
}

// DefaultDir is the network folder of make's targets: vcnet's default
// --dir, relative to the working directory (the project's).
const DefaultDir = rundir.NetworkDir

// Tool returns the vcnet program (rundir.Vcnet), whose make targets act
// on DefaultDir, new at each call, so no caller can change its targets for
// the others. Its Command is the command line, in backquotes, that runs
// vcnet's command words ("down", "--wipe") on the network in a folder, for
// advice in messages: make's target only for DefaultDir in the project on
// the default port base, else vcnet with --dir written out.
func Tool() rundir.Tool { return rundir.Vcnet() }

// wipeCommand is the command line, in backquotes, that wipes the
// instance in Config.Dir (Tool().Command).
func (n *Network) wipeCommand() string { return Tool().Command(n.cfg.Dir, 0, "down", "--wipe") }

// wipeAdvice says how to wipe an instance New refuses (rundir.ErrUnreadable):
// that command stops the processes its state records without opening it.
func (n *Network) wipeAdvice() string {
	return "wipe it with " + n.wipeCommand() + ", which stops the processes it records first"
}

// UnreadableError is New's refusal (rundir.ErrUnreadable) of an instance
// whose state.json it cannot open (damaged, or an older version's): its
// message is the Problem, then the Advice, how to wipe the instance alone.
// A caller for which the folder is part of more (the stack's system, whose
// network vcnet refuses to wipe alone) replaces the Advice with its own.
type UnreadableError struct {
	Problem string // what cannot be read, and why
	Advice  string // how to get past it
}

func (e *UnreadableError) Error() string {
	return rundir.ErrUnreadable.Error() + ": " + e.Problem + ": " + e.Advice
}

// Unwrap makes errors.Is(err, rundir.ErrUnreadable) hold.
func (e *UnreadableError) Unwrap() error { return rundir.ErrUnreadable }

// unreadable is the UnreadableError of problem, advising the wipe of the
// instance alone.
func (n *Network) unreadable(problem string) error {
	return &UnreadableError{Problem: problem, Advice: n.wipeAdvice()}
}

// freshState is the state of an instance not yet created.
func (n *Network) freshState() state {
	consensus, _ := network.ParseConsensus(string(n.cfg.Consensus)) // checked in New
	st := state{PortBase: cmp.Or(n.cfg.PortBase, network.DefaultPortBase), Consensus: consensus, recorded: recorded{PIDs: map[string]proc.ID{}}, Bundles: n.cfg.Bundles}
	if !reflect.DeepEqual(n.cfg.Hosts, network.OneHost()) {
		st.Hosts = &n.cfg.Hosts
	}
	return st
}

// CheckRunDir refuses (rundir.ErrForeign) a run folder dir no instance
// made, so that a mistyped --dir ($HOME, /) is never wiped: one made by
// generate holds rundir.Marker; one made before the marker existed holds
// state.json, or, from an interrupted bring-up, the crypto configuration
// or material (generate's first writes).
func CheckRunDir(dir string) error { return rundir.Check(dir, runRecords(dir), nil) }

// WipeRunDir deletes the run folder dir, after CheckRunDir; it stops
// nothing (Down does, and internal/stack's StopRecordedNetwork for a
// folder New refuses).
func WipeRunDir(dir string) error {
	if err := CheckRunDir(dir); err != nil {
		return err
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("wipe %s: %w", dir, err)
	}
	return nil
}

// runRecords are the files, relative to the run folder dir, that say an
// instance made it (see CheckRunDir).
func runRecords(dir string) []string {
	l := network.Layout{Dir: dir}
	var records []string
	for _, p := range []string{l.State(), l.CryptoConfig(), l.Crypto()} {
		if rel, err := filepath.Rel(dir, p); err == nil {
			records = append(records, rel)
		}
	}
	return records
}

func (n *Network) saveState() error {
	data, err := json.MarshalIndent(n.state, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(n.cfg.Dir, 0o755); err != nil {
		return err
	}
	tmp := n.layout.State() + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, n.layout.State())
}

// bin is the path of a Fabric command.
func (n *Network) bin(name string) string { return filepath.Join(n.cfg.FabricBin, name) }

// checkPrerequisites reports missing binaries with the command that builds them.
func (n *Network) checkPrerequisites() error {
	for _, name := range []string{"peer", "orderer", "configtxgen", "cryptogen", "osnadmin", "config/core.yaml", "config/orderer.yaml"} {
		if _, err := os.Stat(n.bin(name)); err != nil {
			return fmt.Errorf("Fabric file %s is missing: build the Fabric binaries with `make fabric-bin`", n.bin(name))
		}
	}
	if _, err := os.Stat(n.cfg.Chaincode); err != nil {
		return fmt.Errorf("chaincode binary %s is missing: build it with `make build`", n.cfg.Chaincode)
	}
	if _, err := os.Stat(filepath.Join(n.cfg.Builder, "bin", "detect")); err != nil {
		return fmt.Errorf("external builder not found in %s (it ships in the repository under %s)", n.cfg.Builder, network.BuilderDir)
	}
	return nil
}

// Up brings the network to a ready state: a probe transaction endorsed by both
// organisations commits. On a fresh folder it creates everything; on an
// existing instance it restarts whatever is not running and keeps the ledger.
// Running it twice is safe.
func (n *Network) Up(ctx context.Context) error {
	began := time.Now()
	if err := n.checkPrerequisites(); err != nil {
		return err
	}
	if n.cfg.Consensus != "" && n.cfg.Consensus != n.state.Consensus {
		return fmt.Errorf("the instance in %s was created with consensus %s, not %s: use --consensus %s, or wipe it with %s",
			n.cfg.Dir, n.state.Consensus, n.cfg.Consensus, n.state.Consensus, n.wipeCommand())
	}
	if !reflect.DeepEqual(n.cfg.Hosts, n.Hosts()) {
		return fmt.Errorf("the instance in %s was created with other hosts (%v): wipe it with %s to place it anew", n.cfg.Dir, n.Hosts().Hosts(), n.wipeCommand())
	}
	if n.state.Generated {
		return fmt.Errorf("%s was generated for other machines (vcnet bundles): its nodes run from its bundles there; wipe it with %s to bring a network up here", n.cfg.Dir, n.wipeCommand())
	}
	if !n.state.Created {
		if err := n.checkFreshDir(); err != nil {
			return err
		}
	}
	if err := n.checkPorts(); err != nil {
		return err
	}
	var err error
	if n.state.Created {
		err = n.restart(ctx)
	} else {
		err = n.create(ctx)
	}
	if err != nil {
		return err
	}
	if err := n.Probe(ctx); err != nil {
		return err
	}
	n.log.Info("network ready", "elapsed", time.Since(began).Round(time.Millisecond).String(), "profile", n.layout.Profile())
	return nil
}

// checkFreshDir refuses a folder left by an interrupted bring-up.
func (n *Network) checkFreshDir() error {
	entries, err := os.ReadDir(n.cfg.Dir)
	if errors.Is(err, os.ErrNotExist) || (err == nil && len(entries) == 0) {
		return nil
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("%s holds data from an interrupted or foreign bring-up: wipe it with %s and run up again", n.cfg.Dir, n.wipeCommand())
}

// checkPorts fails with the port's owner if a port this instance needs for a
// process that is not running is taken: the nodes' ports, and both slots of
// each chaincode server (the one a restart uses, the one the next Deploy
// does) but the slot a running server holds.
func (n *Network) checkPorts() error {
	addrs := n.nodeAddrs()
	ports := n.ports.NetworkPorts()
	if n.cfg.Pprof {
		ports = append(ports, n.ports.PprofPorts()...)
	}
	var needed []network.NamedPort
	for _, np := range ports {
		if !n.running(np.Process) {
			needed = append(needed, np)
		}
	}
	for i, o := range network.PeerOrgs() {
		name := network.ChaincodeProcess(o)
		addrs[name] = n.Hosts().Peer(i).Addr
		for slot := range 2 {
			if slot != n.state.Chaincode.Slot || !n.running(name) {
				needed = append(needed, network.NamedPort{Process: name, Role: fmt.Sprintf("server, slot %d", slot), Port: n.ports.ChaincodeServer(i, slot)})
			}
		}
	}
	for _, np := range needed {
		if !proc.AddrFreeSoon(addrs[np.Process], np.Port) {
			return fmt.Errorf("port %d (%s %s) is in use by another process: stop it (`ss -ltnp 'sport = :%d'` shows which) or choose another port base with --port-base / VOTECHAIN_PORT_BASE",
				np.Port, np.Process, np.Role, np.Port)
		}
	}
	return nil
}

// running reports whether the named process of this instance is alive.
func (n *Network) running(name string) bool {
	p, ok := n.processes()[name]
	return ok && proc.Running(n.state.PIDs[name], p.Bin)
}

// Down stops every process of the instance by its recorded ID (proc.Stop:
// a PID that now belongs to another process is left alone and logged); a
// process it could not stop is an error naming its node ("stop orderer0: ...").
// With wipe it also deletes the run folder (ledgers, crypto material,
// logs), first refusing (before it stops anything) a folder the instance
// did not make (CheckRunDir). Without, it records what it stopped in
// state.json only in a folder that is the instance's (rundir.Is: marker
// or record); any other folder records no process, so there is nothing to
// write, and writing state.json would make a foreign --dir ($HOME) pass
// for a run folder that a later wipe deletes.
func (n *Network) Down(wipe bool) error {
	if wipe {
		if err := CheckRunDir(n.cfg.Dir); err != nil {
			return err
		}
	}
	procs := n.processes()
	// Stop in reverse start order: chaincode servers, peers, then orderers.
	names := n.processNames()
	slices.Reverse(names)
	var errs []error
	for _, name := range names {
		if _, ok := n.state.PIDs[name]; !ok {
			continue
		}
		bin := procs[name].Bin
		_ = n.Resume(name) // a paused process would only see SIGTERM once continued
		out, err := proc.Stop(n.state.PIDs[name], bin, 10*time.Second)
		if err != nil {
			errs = append(errs, fmt.Errorf("stop %s: %w", name, err)) // the node, not only its binary
			continue
		}
		LogStop(n.log, name, n.state.PIDs[name], out)
		delete(n.state.PIDs, name)
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if wipe {
		n.log.Info("wiping", "dir", n.cfg.Dir)
		if err := WipeRunDir(n.cfg.Dir); err != nil {
			return err
		}
		n.state = n.freshState()
		return nil
	}
	if rundir.Is(n.cfg.Dir, runRecords(n.cfg.Dir)) {
		return n.saveState()
	}
	return nil
}

// Kill sends SIGKILL to one process of the instance (for fault tests).
func (n *Network) Kill(name string) error {
	p, ok := n.processes()[name]
	if !ok {
		return fmt.Errorf("no process %q in this network", name)
	}
	if err := proc.Kill(n.state.PIDs[name], p.Bin); err != nil {
		return fmt.Errorf("kill %s: %w", name, err)
	}
	delete(n.state.PIDs, name)
	return n.saveState()
}

// Pause stops one process with SIGSTOP without ending it: it keeps its
// connections open but answers nothing (for fault tests). Resume undoes it.
func (n *Network) Pause(name string) error { return n.signal(name, syscall.SIGSTOP) }

// Resume continues a process stopped by Pause.
func (n *Network) Resume(name string) error { return n.signal(name, syscall.SIGCONT) }

func (n *Network) signal(name string, sig syscall.Signal) error {
	p, ok := n.processes()[name]
	if !ok {
		return fmt.Errorf("no process %q in this network", name)
	}
	if err := proc.Signal(n.state.PIDs[name], p.Bin, sig); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// startAll starts the named processes concurrently and records their IDs.
func (n *Network) startAll(ctx context.Context, names []string) error {
	procs := n.processes()
	type result struct {
		name string
		id   proc.ID
		err  error
	}
	results := make(chan result, len(names))
	for _, name := range names {
		go func() {
			sp := procs[name]
			sp.Priority = n.cfg.Priority
			id, err := proc.Start(ctx, sp, n.layout.Log(name))
			results <- result{name, id, err}
		}()
	}
	var errs []error
	for range names {
		r := <-results
		if r.err != nil {
			errs = append(errs, r.err)
			continue
		}
		n.state.PIDs[r.name] = r.id
		n.log.Info("started", "process", r.name, "pid", r.id.PID, "log", n.layout.Log(r.name))
	}
	if err := n.saveState(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// restart starts every process of an existing instance that is not running.
func (n *Network) restart(ctx context.Context) error {
	var missing []string
	for _, name := range n.processNames() {
		if !n.running(name) {
			missing = append(missing, name)
		}
	}
	if len(missing) == 0 {
		n.log.Info("network already running", "dir", n.cfg.Dir)
		return nil
	}
	if !n.state.Bundles {
		// The project's current settings, and Config.Pprof, for the nodes
		// about to start.
		if err := n.writeNodeConfigs(); err != nil {
			return err
		}
	}
	return n.startAll(ctx, missing)
}

// LogStop logs what proc.Stop did with the recorded process id of name:
// stopped or already gone at info, a PID found reused (the process gone,
// another one left alone in its place) at warn.
func LogStop(log *slog.Logger, name string, id proc.ID, out proc.Outcome) {
	level := slog.LevelInfo
	if out == proc.Reused {
		level = slog.LevelWarn
	}
	log.Log(context.Background(), level, out.String(), "process", name, "pid", id.PID)
}

// Package stack runs the whole Votechain system on one machine: the
// consortium (through test-network/localnet), redis-server, the batchers, the gateway,
// the explorer and the monitoring (Prometheus and its Redis exporter, see
// internal/monitor), each a native process found again by PID. The
// application processes listen on the clients' host of the network's
// placement (Config.Hosts; 127.0.0.1 by default), in its network namespace
// when a test gives it one. On the first
// bring-up it also prepares an election: a secret, a synthetic voter roll
// loaded into Redis, and the election record (with the roll's Merkle root) on
// the ledger.
package stack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/votechain/votechain/gateway/dedup"
	"github.com/votechain/votechain/gateway/intakelog"
	"github.com/votechain/votechain/internal/cli"
	"github.com/votechain/votechain/internal/monitor"
	"github.com/votechain/votechain/internal/privatefile"
	"github.com/votechain/votechain/internal/proc"
	"github.com/votechain/votechain/internal/redisserver"
	"github.com/votechain/votechain/internal/rundir"
	"github.com/votechain/votechain/network"
	"github.com/votechain/votechain/test-network/localnet"
)

// Config says where the system lives and how big it is.
type Config struct {
	Dir string // run folder (.run): network/, redis/, roll/, logs/, state
	// PortBase is the first port of the system's port plan: zero means the
	// one its network was created with (localnet.Config.PortBase), or
	// network.DefaultPortBase for a new system; another one than the
	// recorded is an error.
	PortBase  int
	BinDir    string // the project's commands (make build)
	FabricBin string
	Builder   string
	Election  string          // election template: id, name, states, contests, batchers (config/election.json or config/referendum.json)
	Window    time.Duration   // voting window of a new election, from now
	Voters    int             // synthetic roll size of a new election
	Batchers  int             // batcher processes; 0: as last time, else 1
	Gateways  int             // gateway processes, behind HAProxy when more than one; 0: as last time, else 1
	Redis     string          // RedisSingle or RedisCluster; "": as last time, else single
	Monitor   monitor.Options // scrape/evaluation interval and alert overrides (tests)
	// LedgerPriority is the CPU priority of the ledger side (orderers,
	// peers, chaincode servers, batchers, explorer) when they start, so the
	// gateway and Redis win the cores under a surge and the ledger drains in
	// the time left (DefaultLedgerPriority for up); the zero value runs
	// everything at the same priority.
	LedgerPriority proc.Priority
	// Hosts places the consortium's nodes on hosts (localnet.Config.Hosts);
	// every application process (Redis, batchers, gateways, HAProxy,
	// explorer, monitoring) listens on the clients' host address. The zero
	// value is the placement the system was created with, else
	// network.OneHost: everything on 127.0.0.1.
	Hosts network.Placement
	// Netns maps a host's name to the network namespace its processes run
	// in (tests standing in for machines, localnet.Config.Netns); the
	// application processes run in the clients' host's.
	Netns   map[string]string
	Bundles bool         // run the nodes from per-host bundles (localnet.Config.Bundles)
	Log     *slog.Logger // required
}

// Stack is one instance of the whole system, made by New (the zero value
// cannot stop its processes).
type Stack struct {
	cfg   Config
	net   *localnet.Network
	ports network.Ports
	log   *slog.Logger
	pids  map[string]proc.ID // stack.json; a bare number: recorded before start times were kept
	stop  stopFunc           // how Down and RestartBatchers stop each process: proc.StopSteps, or a test's stand-in
}

// New prepares a handle on the system in cfg.Dir; it starts nothing.
func New(cfg Config) (*Stack, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if err := cfg.LedgerPriority.Valid(); err != nil {
		return nil, fmt.Errorf("ledger priority: %w", err)
	}
	for _, p := range []*string{&cfg.Dir, &cfg.BinDir, &cfg.Election} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			return nil, err
		}
		*p = abs
	}
	ncfg := localnet.Config{
		Dir: NetworkDir(cfg.Dir), PortBase: cfg.PortBase, FabricBin: cfg.FabricBin,
		Chaincode: filepath.Join(cfg.BinDir, "ballotcc"), Builder: cfg.Builder, Priority: cfg.LedgerPriority, Log: cfg.Log,
		Hosts: cfg.Hosts, Netns: cfg.Netns, Bundles: cfg.Bundles,
	}
	n, err := localnet.New(ncfg)
	if err == nil && cfg.Hosts.Orgs == nil && !reflect.DeepEqual(n.Hosts(), network.OneHost()) {
		ncfg.Hosts = n.Hosts() // no placement given: the one the system was created with
		n, err = localnet.New(ncfg)
	}
	var unreadable *localnet.UnreadableError
	if errors.As(err, &unreadable) { // its advice, vcnet's wipe of the network alone, is refused for a system's network
		return nil, fmt.Errorf("%w: %s: as the network of the system in %s, wipe it with the whole system: %s, which stops the processes the system's records name first",
			rundir.ErrUnreadable, unreadable.Problem, cfg.Dir, Command(cfg.Dir, 0, "down", "--wipe"))
	}
	if err != nil {
		return nil, err
	}
	cfg.PortBase = n.Ports().Base // the recorded one
	recorded, err := readShape(filepath.Join(cfg.Dir, "shape.json"))
	if err != nil {
		return nil, err
	}
	if err := resolveShape(&cfg, recorded); err != nil {
		return nil, err
	}
	s := &Stack{cfg: cfg, net: n, ports: network.Ports{Base: cfg.PortBase}, log: cfg.Log, pids: map[string]proc.ID{}, stop: proc.StopSteps}
	if data, err := os.ReadFile(s.path("stack.json")); err == nil {
		if err := json.Unmarshal(data, &s.pids); err != nil {
			return nil, damagedProcessRecord(s.path("stack.json"), err)
		}
	}
	return s, nil
}

// damaged is New's refusal (rundir.ErrUnreadable) of a record it cannot
// read, file in the run folder, other than the process record stack.json
// (damagedProcessRecord): down --wipe stops the processes the folder's
// process records name without opening the system (WipeUnopened), then
// wipes it.
func damaged(file string, err error) error {
	dir := filepath.Dir(file)
	return fmt.Errorf("%w: %s is damaged (%v): wipe the system with %s, which stops the processes its records name (stack.json, network/state.json) and wipes the folder without opening the system",
		rundir.ErrUnreadable, file, err, Command(dir, 0, "down", "--wipe"))
}

// damagedProcessRecord is New's refusal (rundir.ErrUnreadable) of the run
// folder's stack.json, which it cannot read. The application processes
// it records cannot be found from it, so down --wipe refuses it too
// (WipeUnopened, StopRecorded), stopping nothing: they are to be stopped
// by hand, found by their output in the folder's logs/
// (logWritersCommand), and the record deleted; then down --wipe stops the
// network's nodes and wipes the folder.
func damagedProcessRecord(file string, err error) error {
	dir := filepath.Dir(file)
	logs := LogDir(dir)
	wipe := Command(dir, 0, "down", "--wipe")
	return fmt.Errorf("%w: %s is damaged (%v), so the system's processes it records (Redis, batchers, gateways, HAProxy, explorer, monitoring) cannot be found from it, and %s refuses it too, stopping nothing: "+
		"stop those processes by hand (each writes its output to a file in %s: `%s` lists them, as /proc/PID/fd/N), delete %s, then run %s, which stops the network's nodes and wipes the folder",
		rundir.ErrUnreadable, file, err, wipe, logs, logWritersCommand(logs), rundir.ShellQuote(file), wipe)
}

// logWritersCommand is a shell command listing, as /proc/PID/fd/N, the
// processes with a file in the folder logs open (of those /proc lets the
// user see): find, of findutils, which every Debian system has, reading
// the descriptors' links in /proc as the kernel gives them (absolute,
// symbolic links resolved, so logs is made so too). The psmisc package's
// fuser, which would do, is not among what the project installs.
func logWritersCommand(logs string) string {
	if abs, err := filepath.Abs(logs); err == nil {
		logs = abs
	}
	if real, err := filepath.EvalSymlinks(logs); err == nil {
		logs = real
	}
	literal := strings.NewReplacer(`\`, `\\`, "*", `\*`, "?", `\?`, "[", `\[`).Replace(logs) // -lname takes a pattern
	return "find /proc/[0-9]*/fd -lname " + rundir.ShellQuote(literal+"/*") + " 2>/dev/null"
}

func (s *Stack) path(elem ...string) string {
	return filepath.Join(append([]string{s.cfg.Dir}, elem...)...)
}

// Network is the consortium under the system.
func (s *Stack) Network() *localnet.Network { return s.net }

// RedisAddr (the server, or the cluster's nodes, comma-separated, as
// --redis-addr takes them), GatewayURL (HAProxy's when several gateways
// run) and ExplorerURL locate the system's services.
func (s *Stack) RedisAddr() string   { return s.RedisEndpoint().String() }
func (s *Stack) GatewayURL() string  { return "http://" + s.Clients().Join(s.ports.Gateway()) }
func (s *Stack) ExplorerURL() string { return "http://" + s.Clients().Join(s.ports.Explorer()) }

// PrometheusURL is the monitoring's Prometheus.
func (s *Stack) PrometheusURL() string { return s.monitorURL() }

func (s *Stack) monitorURL() string { return "http://" + s.Clients().Join(s.ports.Prometheus()) }

// Clients is the host the application processes run on: the clients' host
// of the network's placement (network.LocalHost on one machine).
func (s *Stack) Clients() network.Host { return s.net.Hosts().Clients }

// RedisACL is the system's Redis users and their password files
// (secrets/redis/ under the run folder, mode 0600), made by Up.
func (s *Stack) RedisACL() redisserver.ACL { return redisserver.ACL{Dir: s.path("secrets", "redis")} }

// RedisOptions are the client options of one of the system's Redis users
// (redisserver.User*); redisserver.NewClient makes a cluster client of
// them on a cluster. A password file Up has not written says to run it.
func (s *Stack) RedisOptions(user string) (*redis.UniversalOptions, error) {
	pw, err := s.RedisACL().Password(user)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: the system in %s was never brought up; %s starts it", err, s.cfg.Dir, Command(s.cfg.Dir, s.cfg.PortBase, "up"))
	}
	if err != nil {
		return nil, err
	}
	return s.RedisEndpoint().Options(user, pw), nil
}

// SecretFile holds the election secret (hex).
func (s *Stack) SecretFile() string { return s.path("election.secret") }

// RollCSV is the synthetic roll with every voter's credential (for demos
// and load tests only: a real roll's credentials never sit beside the system).
func (s *Stack) RollCSV() string { return s.path("roll", "voters.csv") }

// batcherPort is the metrics port of batcher i (its readiness port).
func (s *Stack) batcherPort(i int) int { return s.ports.Gateway() + 1 + i }

// services lists the application processes in start order: Redis (one
// server or the cluster's nodes) and its exporter, the Votechain processes,
// HAProxy if several gateways run, Prometheus; all on the clients' host,
// in its namespace if it has one.
func (s *Stack) services() []proc.Spec {
	mon := s.monitor().Processes()
	specs := append(s.redisSpecs(), mon[0])
	specs = append(specs, s.votechain()...)
	if s.cfg.Gateways > 1 {
		specs = append(specs, s.haproxySpec())
	}
	specs = append(specs, mon[1])
	for i := range specs {
		specs[i].Addr, specs[i].Netns = s.Clients().Addr, s.cfg.Netns[s.Clients().Name]
	}
	return specs
}

// EnvPrefixes returns the environment prefixes of the Votechain processes
// a stack starts (votechain: batchers, gateways, explorer), in a new slice
// at each call, so no caller can change them for the others. The processes
// inherit the caller's environment (proc.CleanEnv) and take any flag the
// stack does not pass on their command line from PREFIX_FLAG_NAME
// (cli.ApplyEnv), so `BATCHER_LEDGER_LAG=-1s` before the command that
// starts a stack changes its batchers.
func EnvPrefixes() []string { return []string{"BATCHER", "GATEWAY", "EXPLORER"} }

// EnvReaders are the Votechain commands the stack starts (batcher,
// gateway, explorer: EnvPrefixes()), one each, with the command line the
// stack gives them (its first instance's), for cli.CheckEnv: which
// variables of the environment set their flags, and which change nothing.
func (s *Stack) EnvReaders() []cli.EnvReader {
	var out []cli.EnvReader
	for _, sp := range s.votechain() {
		name := filepath.Base(sp.Bin)
		prefix := strings.ToUpper(name)
		if slices.ContainsFunc(out, func(r cli.EnvReader) bool { return r.Prefix == prefix }) {
			continue
		}
		out = append(out, cli.EnvReader{Name: name, Prefix: prefix, Bin: sp.Bin, Args: sp.Args})
	}
	return out
}

// votechain lists the Votechain processes (batchers, gateway, explorer).
// The gateways' voter page links to the explorer (--explorer-url), which
// voters reach where the stack runs it.
func (s *Stack) votechain() []proc.Spec {
	profile := s.componentProfile // each its own identity only
	var specs []proc.Spec
	for i := 0; i < s.cfg.Batchers; i++ {
		specs = append(specs, proc.Spec{
			Name: fmt.Sprintf("batcher%d", i), Bin: filepath.Join(s.cfg.BinDir, "batcher"), Port: s.batcherPort(i), Priority: s.cfg.LedgerPriority,
			Args: []string{"--profile", profile(network.Batcher), "--redis-addr", s.RedisAddr(), "--redis-password-file", s.RedisACL().PasswordFile(redisserver.UserBatcher),
				"--aof-password-file", s.RedisACL().PasswordFile(redisserver.UserAOF), "--metrics", s.Clients().Join(s.batcherPort(i))},
		})
	}
	for i := 0; i < s.cfg.Gateways; i++ {
		name, checkpoint := "gateway", s.path("gateway", "results.json")
		var extra []string
		if s.cfg.Gateways > 1 { // behind HAProxy, which names the client
			name, checkpoint = fmt.Sprintf("gateway%d", i), s.path(fmt.Sprintf("gateway%d", i), "results.json")
			extra = []string{"--trusted-proxies", s.Clients().Addr} // HAProxy runs beside them
		}
		specs = append(specs, proc.Spec{
			// Ready: it answers 503 starting until it has read the election
			// record, so its port accepting says nothing.
			// StopWithin: gatewayStopGrace, set by startIfStopped once it
			// has recorded the --shutdown-timeout: one not ready may
			// already take votes.
			Name: name, Bin: filepath.Join(s.cfg.BinDir, "gateway"), Port: s.gatewayPort(i), Ready: "/readyz",
			Args: append([]string{"--listen", s.Clients().Join(s.gatewayPort(i)), "--redis-addr", s.RedisAddr(),
				"--redis-password-file", s.RedisACL().PasswordFile(redisserver.UserGateway),
				"--secret-file", s.SecretFile(), "--profile", profile(network.Gateway), "--results-checkpoint", checkpoint,
				"--election-max-age", GatewayElectionMaxAge.String(), // what finalise waits after a close (CloseSettle)
				"--log-key", s.LogKeyFile(), "--explorer-url", s.ExplorerURL()}, extra...),
		})
	}
	specs = append(specs, proc.Spec{
		Name: "explorer", Bin: filepath.Join(s.cfg.BinDir, "explorer"), Port: s.ports.Explorer(), Priority: s.cfg.LedgerPriority,
		Args: []string{"--listen", s.Clients().Join(s.ports.Explorer()), "--profile", profile(network.Explorer),
			"--db", s.path("explorer", "index.db"), "--prometheus", s.monitorURL(), "--gateway", s.GatewayURL(),
			"--genesis-block", s.genesisBlock()},
	})
	return specs
}

// componentProfile is the connection profile of a component's own
// identity: from the clients' host's bundle when the nodes run from
// bundles (what that machine holds), else from the network's folder.
func (s *Stack) componentProfile(c network.Component) string {
	if s.cfg.Bundles {
		return network.Layout{Dir: s.net.Layout().Bundle(s.Clients().Name)}.ComponentProfile(c.Name)
	}
	return s.net.Layout().ComponentProfile(c.Name)
}

// genesisBlock is the channel's genesis block as the clients' host holds
// it (its bundle, or the network's folder): the explorer's trust anchor.
func (s *Stack) genesisBlock() string {
	if s.cfg.Bundles {
		return network.Layout{Dir: s.net.Layout().Bundle(s.Clients().Name)}.GenesisBlock()
	}
	return s.net.Layout().GenesisBlock()
}

// monitor is the monitoring of this system: every Votechain process and
// every Fabric node's operations endpoint, from the port plan.
func (s *Stack) monitor() monitor.Config {
	var targets []monitor.Target
	for _, sp := range s.votechain() {
		// gateway, batcher0, batcher1, explorer: the job is the kind.
		targets = append(targets, monitor.Target{Job: strings.TrimRight(sp.Name, "0123456789"), Instance: sp.Name, Addr: s.Clients().Addr, Port: sp.Port})
	}
	for _, np := range s.ports.NetworkPorts() {
		if np.Role != "operations" {
			continue
		}
		job := "orderer"
		if strings.HasPrefix(np.Process, "peer") {
			job = "peer"
		}
		host, _ := s.net.Hosts().Process(np.Process)
		targets = append(targets, monitor.Target{Job: job, Instance: np.Process, Addr: host.Addr, Port: np.Port})
	}
	return monitor.Config{
		Options: s.cfg.Monitor, Dir: s.path("prometheus"), Addr: s.Clients().Addr, Port: s.ports.Prometheus(),
		ExporterPort: s.ports.RedisExporter(), RedisAddrs: s.RedisEndpoint().Addrs, Targets: targets,
		RedisUser: redisserver.UserExporter, RedisPasswordFile: s.RedisACL().ExporterPasswordFile(),
	}
}

// writeMonitor writes Prometheus's configuration and tells a running
// Prometheus to reload it when it changed (a new batcher count).
func (s *Stack) writeMonitor() error {
	changed, err := s.monitor().Write()
	if err != nil {
		return err
	}
	prom := s.monitor().Processes()[1]
	if !changed {
		return nil
	}
	id := s.pids[prom.Name]
	if err := proc.Signal(id, prom.Bin, syscall.SIGHUP); !errors.Is(err, proc.ErrNotRunning) {
		s.log.Info("prometheus configuration changed; reloading", "pid", id.PID)
		return err
	}
	return nil
}

// Up brings the whole system up; running it again restarts only what is
// stopped. It checks the configuration (the gateways' environment and
// Redis settings) first, then the packages it runs, before it writes or
// starts anything: a refusal of the configuration comes whether or not
// the packages are installed.
func (s *Stack) Up(ctx context.Context) error {
	began := time.Now()
	if err := checkGatewayEnv(); err != nil {
		return err
	}
	if _, err := s.gatewayMaxAccept(); err != nil { // the gateways' Redis settings, before anything starts
		return err
	}
	if _, err := exec.LookPath("redis-server"); err != nil {
		return errors.New("redis-server not found: install it with `make deps-run` (Debian package redis-server)")
	}
	if _, _, err := monitor.Binaries(); err != nil {
		return err
	}
	if err := s.saveShape(); err != nil {
		return err
	}
	if s.cfg.Gateways > 1 {
		if _, err := os.Stat(haproxyBin()); err != nil {
			return errors.New("haproxy not found: install it with `make deps-run` (Debian package haproxy)")
		}
		if err := s.writeHAProxy(ctx); err != nil {
			return err
		}
	}
	if err := s.writeMonitor(); err != nil {
		return err
	}
	if err := s.RedisACL().Ensure(s.log, s.RedisEndpoint().Addrs...); err != nil {
		return fmt.Errorf("redis users: %w", err)
	}
	if err := s.net.Up(ctx); err != nil {
		return err
	}
	for _, c := range network.Components() {
		if _, err := os.Stat(s.net.Layout().ComponentProfile(c.Name)); err != nil {
			return fmt.Errorf("the network in %s has no profile for the %s's own identity (it predates per-component identities): recreate the system with %s and %s", s.net.Layout().Dir, c.Name, Command(s.cfg.Dir, s.cfg.PortBase, "down", "--wipe"), Command(s.cfg.Dir, s.cfg.PortBase, "up"))
		}
	}
	if _, err := s.net.Deploy(ctx); err != nil { // a rebuilt chaincode goes live; a no-op otherwise
		return err
	}
	specs, nRedis := s.services(), len(s.redisSpecs())
	if err := s.startIfStopped(ctx, specs[:nRedis]); err != nil { // Redis first: the election set-up loads the roll
		return err
	}
	if err := s.waitRedis(ctx); err != nil {
		return err
	}
	if err := s.ensureElection(ctx); err != nil {
		return err
	}
	if err := s.startIfStopped(ctx, specs[nRedis:]); err != nil {
		return err
	}
	s.log.Info("system up", "elapsed", time.Since(began).Round(time.Millisecond).String(), "gateway", s.GatewayURL())
	return nil
}

// startIfStopped starts each spec that is not running, checking its port
// first, and waits until it is ready (proc.Start: its port, or a gateway's
// /readyz) before the next.
func (s *Stack) startIfStopped(ctx context.Context, specs []proc.Spec) error {
	for _, sp := range specs {
		if proc.Running(s.pids[sp.Name], sp.Bin) {
			continue
		}
		if _, err := os.Stat(sp.Bin); err != nil {
			return fmt.Errorf("%s: %s is missing: run `make build`", sp.Name, sp.Bin)
		}
		if !proc.AddrFreeSoon(sp.Addr, sp.Port) {
			return fmt.Errorf("%s (%s) is in use by another process: stop it or choose another port base with --port-base", sp.ListenAddr(), sp.Name)
		}
		if sp.Dir != "" {
			if err := os.MkdirAll(sp.Dir, 0o755); err != nil {
				return err
			}
		}
		if isGateway(sp.Name) {
			if err := s.recordGatewayShutdown(ctx, sp.Name); err != nil {
				return err
			}
			sp.StopWithin = gatewayStopGrace(s.cfg.Dir, sp.Name) // if Start gives up on it
		}
		logFile := filepath.Join(LogDir(s.cfg.Dir), sp.Name+".log")
		id, err := proc.Start(ctx, sp, logFile)
		if err != nil {
			return err
		}
		s.pids[sp.Name] = id
		s.log.Info("started", "process", sp.Name, "pid", id.PID, "port", sp.Port, "log", logFile)
		if err := s.save(); err != nil {
			return err
		}
	}
	return nil
}

// save writes stack.json whole or not at all (privatefile.WriteData), so
// that a crash while writing it never leaves a record cut short.
func (s *Stack) save() error {
	data, err := json.MarshalIndent(s.pids, "", "  ")
	if err != nil {
		return err
	}
	return privatefile.WriteData(s.path("stack.json"), data)
}

// Down stops the application processes (reverse order, each as stopSteps
// says: HAProxy first, softly, so that it finishes the requests in flight
// while the gateways still answer; the gateways together, so their stop
// takes the longest of theirs, not the sum: stopGroups), then the network.
// With wipe it deletes the whole run folder, first refusing (before it
// stops anything) a folder the system did not make (checkRunDir). An application process that
// will not stop does not keep the network running: Down stops the network
// all the same and returns every error joined, but then deletes nothing
// (with or without wipe), so stack.json still names the process for the
// next Down. Without wipe it writes stack.json only into a folder that is
// the system's (rundir.Is: marker or record): any other records no
// process, so there is nothing to write, and a stack.json written there
// would make a foreign --dir ($HOME) pass for a run folder that a later
// wipe (make clean) empties.
func (s *Stack) Down(wipe bool) error {
	if wipe {
		if err := s.checkRunDir(); err != nil {
			return err
		}
	}
	var errs []error
	stopInGroups(s.recordedGroups(), func(sp proc.Spec) error {
		id := s.pids[sp.Name] // read only while a group stops: done alone writes
		out, err := s.stop.service(id, sp.Bin, s.cfg.Dir, sp.Name)
		if err != nil {
			return fmt.Errorf("stop %s: %w", sp.Name, err)
		}
		localnet.LogStop(s.log, sp.Name, id, out)
		return nil
	}, func(sp proc.Spec, err error) {
		if err != nil {
			errs = append(errs, err)
			return
		}
		delete(s.pids, sp.Name)
	})
	wipe = wipe && len(errs) == 0
	if err := s.net.Down(wipe); err != nil {
		return errors.Join(append(errs, err)...)
	}
	if wipe {
		return WipeRunDir(s.cfg.Dir)
	}
	if rundir.Is(s.cfg.Dir, runRecords) {
		errs = append(errs, s.save())
	}
	return errors.Join(errs...)
}

// recordedGroups returns the recorded application processes (those stack.json
// names) in the reverse of their start order (services), grouped by stopGroups.
func (s *Stack) recordedGroups() [][]proc.Spec {
	var recorded []proc.Spec
	for _, sp := range slices.Backward(s.services()) {
		if _, ok := s.pids[sp.Name]; ok {
			recorded = append(recorded, sp)
		}
	}
	return stopGroups(recorded, func(sp proc.Spec) string { return sp.Name }, func(proc.Spec) string { return "" })
}

// stopGroups is the one rule by which Down and StopRecorded group the
// processes ps, given in the order they stop (reverse start order), into
// the groups they stop one after the other, the members of a group at
// once (stopInGroups): the gateways of one record (the same record(p))
// together, since each may take its --shutdown-timeout and stop margin
// (gatewayStopGrace), so their stop takes the longest of theirs, not the
// sum; every other process alone. The gateways' group takes the place of
// the first of them in ps (the latest started), so what was started before
// any of them (the batchers, Redis, one restarted between two gateways'
// starts) stops only once every one has stopped; the record's HAProxy,
// which sends them requests, stops before the group wherever ps has it.
// name(p) is p's name in its record (isGateway, haproxyName).
func stopGroups[P any](ps []P, name, record func(P) string) [][]P {
	gateways, haproxies := map[string][]int{}, map[string][]int{} // by record, indexes in ps
	for i, p := range ps {
		switch n := name(p); {
		case isGateway(n):
			gateways[record(p)] = append(gateways[record(p)], i)
		case n == haproxyName:
			haproxies[record(p)] = append(haproxies[record(p)], i)
		}
	}
	var groups [][]P
	placed := make([]bool, len(ps))
	place := func(at []int) {
		var group []P
		for _, i := range at {
			if !placed[i] {
				group, placed[i] = append(group, ps[i]), true
			}
		}
		if len(group) > 0 {
			groups = append(groups, group)
		}
	}
	for i, p := range ps {
		if placed[i] {
			continue
		}
		if r := record(p); isGateway(name(p)) {
			for _, h := range haproxies[r] {
				place([]int{h})
			}
			place(gateways[r])
			continue
		}
		place([]int{i})
	}
	return groups
}

// stopInGroups stops the groups of stopGroups one after the other with
// stop, every member of a group at once (stop runs concurrently with the
// others of its group), the next group only once each stop of the one
// before has returned, however it ended. After each group it calls done,
// not concurrently, with each member in the group's order and the error
// its stop returned.
func stopInGroups[P any](groups [][]P, stop func(P) error, done func(P, error)) {
	for _, group := range groups {
		errs := make([]error, len(group))
		var wg sync.WaitGroup
		for i, p := range group {
			wg.Go(func() { errs[i] = stop(p) })
		}
		wg.Wait()
		for i, p := range group {
			done(p, errs[i])
		}
	}
}

// appStopGrace is how long stopping an application process waits after
// its SIGTERM before SIGKILL (a gateway: at least that long).
const appStopGrace = 20 * time.Second

// stopFunc stops the process id (binary bin) by steps, as proc.StopSteps
// does: it is proc.StopSteps, or a test's stand-in that notes the steps or
// fails.
type stopFunc func(id proc.ID, bin string, steps ...proc.StopStep) (proc.Outcome, error)

// service stops the process name (id, binary bin) of the system in the run
// folder dir with stop by stopSteps: the one way Down, RestartBatchers and
// StopRecorded stop each process.
func (stop stopFunc) service(id proc.ID, bin, dir, name string) (proc.Outcome, error) {
	return stop(id, bin, stopSteps(dir, name)...)
}

// stopSteps is the one rule by which Down, RestartBatchers and
// StopRecorded stop the process name of the system in the run folder dir
// (proc.StopSteps): HAProxy softly (haproxyStopSteps, by the configuration
// it runs with), every other process with SIGTERM, then SIGKILL
// appStopGrace later, or gatewayStopGrace later for a gateway.
func stopSteps(dir, name string) []proc.StopStep {
	switch {
	case name == haproxyName:
		return haproxyStopSteps(haproxyConfigFile(dir))
	case isGateway(name):
		return []proc.StopStep{{Signal: syscall.SIGTERM, Wait: gatewayStopGrace(dir, name)}}
	}
	return []proc.StopStep{{Signal: syscall.SIGTERM, Wait: appStopGrace}}
}

// isGateway says whether name is a gateway's among the services and in
// stack.json: gateway alone, gateway0, gateway1, … behind HAProxy.
func isGateway(name string) bool { return strings.TrimRight(name, "0123456789") == "gateway" }

// gatewayStopMargin is what stopping a gateway waits beyond its
// --shutdown-timeout, within which it finishes the requests in flight:
// maxAccept, the longest its Accepts in flight are waited for once the
// grace ran out (dedup.Config.MaxAcceptTime at the Redis flags it runs
// with: gatewayMaxAccept), the longest its intake log takes to anchor the
// last votes once the loops stop (intakelog.Config.StopTimeout, 30 s: the
// gateway gives the loops at least that however little of the grace is
// left) and 7 s: 1 s for the last answers to be written, the gateway's
// 1 s of slack, 2 s to close the intake and time to exit.
func gatewayStopMargin(maxAccept time.Duration) time.Duration {
	return maxAccept + intakelog.Config{}.StopTimeout() + 7*time.Second
}

// gatewayShutdownFile records, in the folder of the gateway name of the
// system in the run folder dir, the --shutdown-timeout it was started with
// (recordGatewayShutdown), which stopping it reads (gatewayStopGrace).
func gatewayShutdownFile(dir, name string) string {
	return filepath.Join(dir, name, "shutdown-timeout")
}

// gatewayMaxAcceptFile records, beside gatewayShutdownFile, the longest
// Accept of the gateway name at the Redis flags it was started with
// (gatewayMaxAccept), which stopping it reads (gatewayStopGrace). A file
// of its own, so that an older version reading gatewayShutdownFile still
// finds a lone duration there.
func gatewayMaxAcceptFile(dir, name string) string {
	return filepath.Join(dir, name, "max-accept")
}

// unrecordedMaxAccept is the longest Accept counted for a gateway with a
// --shutdown-timeout record but no gatewayMaxAcceptFile (one an older
// version started, which may have read any Redis flags from GATEWAY_*):
// the longest at the default flags, a Redis Cluster's, 72.5 s, which holds
// the 48.3 s the last such version waited.
func unrecordedMaxAccept() time.Duration { return dedup.Config{}.MaxAcceptTime(true) }

// recordGatewayShutdown writes the --shutdown-timeout the gateway name is
// about to start with (gatewayShutdownTimeout) to its gatewayShutdownFile
// and its longest Accept at the Redis flags it will read (gatewayMaxAccept)
// to its gatewayMaxAcceptFile.
func (s *Stack) recordGatewayShutdown(ctx context.Context, name string) error {
	d, err := s.gatewayShutdownTimeout(ctx)
	if err != nil {
		return err
	}
	accept, err := s.gatewayMaxAccept()
	if err != nil {
		return err
	}
	path := gatewayShutdownFile(s.cfg.Dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(gatewayMaxAcceptFile(s.cfg.Dir, name), []byte(accept.String()+"\n"), 0o644); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(d.String()+"\n"), 0o644)
}

// readDuration reads the lone duration the file path holds.
func readDuration(path string) (time.Duration, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return time.ParseDuration(strings.TrimSpace(string(data)))
}

// gatewayStopGrace is how long stopping the gateway name of the system in
// the run folder dir waits after its SIGTERM before SIGKILL: its recorded
// --shutdown-timeout (gatewayShutdownFile) and gatewayStopMargin for its
// recorded longest Accept (gatewayMaxAcceptFile; unrecordedMaxAccept
// without one), but never less than appStopGrace; appStopGrace for a
// gateway with no readable --shutdown-timeout record (one an older
// version started, which needs its default 15 s and 5 s to exit).
func gatewayStopGrace(dir, name string) time.Duration {
	d, err := readDuration(gatewayShutdownFile(dir, name))
	if err != nil {
		return appStopGrace
	}
	accept, err := readDuration(gatewayMaxAcceptFile(dir, name))
	if err != nil {
		accept = unrecordedMaxAccept()
	}
	return max(appStopGrace, d+gatewayStopMargin(accept))
}

// OthersInRunDir returns the entries of a run folder that belong to other
// commands, which a wipe keeps: vcnet's bundles for a network on separate
// machines (deploy: its CA keys are in no bundle), the benchmark's own
// system (bench) and the tests' folders (test). It is a new slice at each
// call, so no caller can change the list for the others.
func OthersInRunDir() []string {
	return []string{path.Base(rundir.DeployDir), "bench", "test"}
}

// runRecords are files of the run folder that folders made before
// rundir.Marker hold: a folder holding one is the system's.
var runRecords = []string{"stack.json", "shape.json"}

// HoldsSystem reports whether dir holds a system's records (stack.json or
// shape.json): Up ran there, and a wipe of anything in it but the whole
// system (Down(true)) would leave the system's other parts behind.
func HoldsSystem(dir string) bool {
	return slices.ContainsFunc(runRecords, func(name string) bool {
		_, err := os.Stat(filepath.Join(dir, name))
		return err == nil
	})
}

// NetworkDir is the folder of the Fabric network of the system in the run
// folder dir.
func NetworkDir(dir string) string { return filepath.Join(dir, "network") }

// LogDir is the folder of the system in the run folder dir where each of
// its own processes writes its output, as NAME.log (the network's log in
// its own folder).
func LogDir(dir string) string { return filepath.Join(dir, "logs") }

// CheckRunDir refuses (rundir.ErrForeign) a run folder no stack made, so
// that a mistyped --dir ($HOME, /) is never wiped nor written into.
func CheckRunDir(dir string) error { return rundir.Check(dir, runRecords, OthersInRunDir()) }

func (s *Stack) checkRunDir() error { return CheckRunDir(s.cfg.Dir) }

// MakeRunDir creates the run folder dir with rundir.Marker, refusing a
// folder holding what is not the system's (CheckRunDir). Whoever writes
// into a run folder before Up (the benchmark's roll) makes it so first.
func MakeRunDir(dir string) error { return rundir.Make(dir, runRecords, OthersInRunDir()) }

func (s *Stack) makeRunDir() error { return MakeRunDir(s.cfg.Dir) }

// WipeRunDir deletes the data of the system in the run folder dir: every
// entry but OthersInRunDir and rundir.Marker. It refuses, deleting nothing, a folder no stack
// made (CheckRunDir). It stops nothing: Down(true) stops the system first;
// for a folder whose system cannot be opened as such, StopRecorded does.
func WipeRunDir(dir string) error {
	if err := CheckRunDir(dir); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var errs []error
	others := OthersInRunDir()
	for _, e := range entries {
		if e.Name() != rundir.Marker && !slices.Contains(others, e.Name()) { // wiped, the folder stays the system's
			errs = append(errs, os.RemoveAll(filepath.Join(dir, e.Name())))
		}
	}
	return errors.Join(errs...)
}

// Kill sends SIGKILL to one application process (for fault tests); Up
// starts it again.
func (s *Stack) Kill(name string) error {
	for _, sp := range s.services() {
		if sp.Name == name {
			if err := proc.Kill(s.pids[name], sp.Bin); err != nil {
				return err
			}
			delete(s.pids, name)
			return s.save()
		}
	}
	return fmt.Errorf("no process %q in the system", name)
}

// ServiceStatus is one application process.
type ServiceStatus struct {
	Name    string `json:"name"`
	PID     int    `json:"pid,omitempty"`
	Running bool   `json:"running"`
	Note    string `json:"note,omitempty"` // why a recorded process does not run (proc.Why)
	Port    int    `json:"port"`
	Addr    string `json:"addr"` // where it listens, host:port
}

// Status reports the application processes.
func (s *Stack) Status() []ServiceStatus {
	var out []ServiceStatus
	for _, sp := range s.services() {
		id := s.pids[sp.Name]
		note := proc.Why(id, sp.Bin)
		out = append(out, ServiceStatus{Name: sp.Name, PID: id.PID, Running: id.PID > 0 && note == "", Note: note, Port: sp.Port, Addr: sp.ListenAddr()})
	}
	return out
}

// ensureSecret creates the election secret on first use (0600).
func (s *Stack) ensureSecret() error {
	if _, err := os.Stat(s.SecretFile()); err == nil {
		return nil
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return err
	}
	if err := s.makeRunDir(); err != nil {
		return err
	}
	return os.WriteFile(s.SecretFile(), []byte(hex.EncodeToString(secret)+"\n"), 0o600)
}

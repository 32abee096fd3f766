// Command vcnet runs the Votechain consortium on this machine: four orderers
// (two per organisation; SmartBFT or Raft), a Commission peer and an
// Observers peer, and the ballot chaincode as a service, all as native
// processes.
//
//	vcnet up        bring the network up (idempotent), print the time it took
//	vcnet down      stop every process it started (--wipe also deletes the data)
//	vcnet status    what runs, on which ports, block heights
//	vcnet deploy    deploy a rebuilt chaincode as the next sequence, keeping the ledger
//	vcnet probe     submit and read back a probe transaction endorsed by both orgs
//	vcnet bundles   generate a network for separate machines: one bundle per host
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/votechain/votechain/internal/cli"
	"github.com/votechain/votechain/internal/proc"
	"github.com/votechain/votechain/internal/rundir"
	"github.com/votechain/votechain/internal/stack"
	"github.com/votechain/votechain/network"
	"github.com/votechain/votechain/test-network/localnet"
)

const usage = `Usage: vcnet [flags] COMMAND

Commands:
  up       bring the network up; safe to run again (restarts what is stopped)
  down     stop every network process by PID; --wipe also deletes ledgers, crypto and logs;
           refused for a system's network while the system's own processes run on it
           (the system's own down, make down for make up's, stops them all; --force
           stops the network under them)
  status   show processes, ports and block heights (--json for machine-readable)
  deploy   deploy the chaincode binary as the next sequence if it changed
  probe    submit a probe transaction endorsed by both organisations and read it back
  bundles  generate a new network for separate machines and start nothing: one folder
           per host (--hosts) to copy to that machine's --bundle-root (docs/operations.md)`

func main() {
	cli.Main("vcnet", run)
}

func run(ctx context.Context) error {
	fs := flag.NewFlagSet("vcnet", flag.ContinueOnError)
	dir := fs.String("dir", rundir.NetworkDir, "run folder of the network instance (bundles: the new network's folder, "+rundir.DeployDir+" unless given)")
	net := cli.NetworkFlags(fs)
	chaincode := fs.String("chaincode", "bin/ballotcc", "chaincode service binary")
	builder := fs.String("builder", network.BuilderDir, "external builder folder")
	consensus := fs.String("consensus", "", fmt.Sprintf("ordering of a new network: %s or %s (default %s; an existing network keeps its own)", network.BFT, network.Raft, network.DefaultConsensus))
	wipe := fs.Bool("wipe", false, "also delete the run folder (refused, deleting nothing, for a folder holding files but no .votechain-run or state.json: one vcnet did not make; and for a system's network, in a folder holding stack.json or shape.json: the system's own wipe, make down WIPE=1 for make up's, wipes that system); a state.json that cannot be read (damaged, or an older version's) is no obstacle: the processes it records are stopped first")
	force := fs.Bool("force", false, "stop a system's network although the system's own processes that use it (gateways, batchers, explorer, Redis...: its stack.json) run; without it such a down is refused, naming the system's own down (make down for make up's, else votechain --dir SYSTEM down), which stops the whole system in order (a stack.json that cannot be read: they are found by their output in the system's logs folder)")
	asJSON := fs.Bool("json", false, "print JSON")
	hosts := fs.String("hosts", "", "each host's address, e.g. commission=10.0.0.2,observers=10.0.0.3,clients=10.0.0.4")
	bundleRoot := fs.String("bundle-root", "/opt/votechain", "the folder each bundle is copied to on its machine")
	profile := fs.String("profile", "", "probe through this connection profile (holding the Commission's admin, e.g. a bundle's profiles/admin.json) instead of the local network's")
	cli.OnlyWith(fs, "down", "wipe", "force")
	cli.OnlyWith(fs, "status", "json")
	cli.OnlyWith(fs, "bundles", "hosts", "bundle-root")
	cli.OnlyWith(fs, "probe", "profile")
	cli.CommandLineOnly(fs, "wipe", "force")
	logFlags := cli.LogFlags(fs) // debug: log retries while the network settles
	fs.Usage = cli.Usage(fs, "VCNET", usage, "")
	// Flags may also follow the command: vcnet down --wipe.
	cmd, err := cli.ParseCommand(fs, "VCNET", os.Args[1:], "up", "down", "status", "deploy", "probe", "bundles")
	if err != nil {
		return err
	}
	log, err := logFlags.Logger(os.Stderr)
	if err != nil {
		return err
	}
	if err := net.Check(); err != nil {
		return err
	}
	if _, err := network.ParseConsensus(*consensus); err != nil {
		return cli.Usagef("--consensus: %v", err)
	}
	cfg := localnet.Config{Dir: *dir, PortBase: net.PortBase, FabricBin: net.FabricBin, Chaincode: *chaincode, Builder: *builder, Consensus: network.Consensus(*consensus), Log: log}
	if cmd == "bundles" {
		if *hosts == "" {
			return cli.Usagef("bundles needs --hosts, e.g. --hosts commission=10.0.0.2,observers=10.0.0.3,clients=10.0.0.4")
		}
		if cfg.Hosts, err = network.ParseSpread(*hosts); err != nil {
			return cli.Usagef("%v", err)
		}
		if !cli.IsSet(fs, "dir") {
			cfg.Dir = rundir.DeployDir // not make up's network
		}
		cfg.Bundles, cfg.BundleRoot = true, *bundleRoot
	}
	n, err := localnet.New(cfg) // reads the network's state, starting nothing
	if cmd == "down" && *wipe {
		if err := refuseSystemNetwork(cfg.Dir); err != nil {
			return err
		}
	}
	if cmd == "down" && !*force {
		if err := refuseNetworkInUse(cfg.Dir, portBaseOf(n), log); err != nil {
			return err
		}
	}
	if cmd == "down" && *wipe && errors.Is(err, rundir.ErrUnreadable) {
		// The advice New gives: stop what the state records, without opening it.
		log.Warn("the network cannot be opened; wiping it by its process record alone", "dir", cfg.Dir, "err", err)
		if err := stack.StopRecordedNetwork(cfg.Dir, log); err != nil {
			return err
		}
		return localnet.WipeRunDir(cfg.Dir)
	}
	if err != nil {
		return err
	}

	switch cmd {
	case "up":
		began := time.Now()
		if err := n.Up(ctx); err != nil {
			return err
		}
		fmt.Printf("network up in %.1f s; connection profile: %s\n", time.Since(began).Seconds(), n.Layout().Profile())
		return nil
	case "down":
		return n.Down(*wipe)
	case "status":
		st := n.Status(ctx)
		if *asJSON {
			enc := json.NewEncoder(os.Stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(st)
		}
		st.Print(os.Stdout)
		return nil
	case "deploy":
		_, err := n.Deploy(ctx)
		return err
	case "probe":
		if *profile != "" {
			return probeProfile(ctx, *profile, log)
		}
		return n.Probe(ctx)
	case "bundles":
		if err := n.Generate(ctx); err != nil {
			return err
		}
		for _, h := range cfg.Hosts.Hosts() {
			fmt.Printf("%-11s %-15s %s  → copy to %s on that machine\n", h.Name, h.Addr, n.Layout().Bundle(h.Name), cfg.BundleRoot)
		}
		return nil
	}
	panic("vcnet: command " + cmd + " has no case") // ParseCommand let through only the commands above
}

// refuseSystemNetwork refuses down --wipe of the network folder dir when
// it is the network of make up's system (systemOf): its gateways and
// batchers use the network, and Redis holds its election's votes, which a
// new network's election would not know. The refusal names the command
// that wipes the whole system (stack.Command: make down WIPE=1 for make
// up's). Other folders beside it (.run/deploy's bundles) are not the
// system's network.
func refuseSystemNetwork(dir string) error {
	abs, system, err := systemOf(dir)
	if err != nil || system == "" {
		return err
	}
	return fmt.Errorf("%s is the network of the system in %s (its gateways and batchers use it, its Redis holds the election's votes), so nothing was wiped: wipe the whole system with %s", abs, system, stack.Command(system, 0, "down", "--wipe"))
}

// refuseNetworkInUse refuses down (without --force) of the network folder
// dir when it is the network of make up's system (systemOf) and the
// system's own processes run (stack.ServicesRunning): stopping the network
// under them leaves the gateways accepting votes that the batchers cannot
// commit. The refusal names the command that stops the whole system,
// HAProxy and the gateways first (stack.Command: make down for make up's).
// When the system's stack.json cannot be read, its processes are looked
// for by their logs instead (refuseWithoutStackRecord). portBase is the
// network's recorded port base (0: unknown), for the advice.
func refuseNetworkInUse(dir string, portBase int, log *slog.Logger) error {
	abs, system, err := systemOf(dir)
	if err != nil || system == "" {
		return err
	}
	running, err := stack.ServicesRunning(system)
	if err != nil {
		return refuseWithoutStackRecord(abs, system, portBase, err, proc.Machine(), log)
	}
	if len(running) == 0 {
		return nil
	}
	return fmt.Errorf("%s is the network of the system in %s, whose processes run on it (%s), so nothing was stopped: stop the whole system with %s, or give --force to stop the network under them", abs, system, strings.Join(running, ", "), stack.Command(system, 0, "down"))
}

// portBaseOf is the port base network n recorded, 0 for a network that
// could not be opened (nil).
func portBaseOf(n *localnet.Network) int {
	if n == nil {
		return 0
	}
	return n.Ports().Base
}

// forceAdvice says what down --force of the network in abs, recorded with
// portBase (0: unknown), does where the system's stack.json cannot be
// read, naming the command for that folder and port base
// (localnet.Tool().Command: make network-down FORCE=1 only for make's
// network on the default ports, else --port-base written out when not the
// default).
func forceAdvice(abs string, portBase int) string {
	return "run " + localnet.Tool().Command(abs, portBase, "down", "--force") + " to stop the network's own processes (those its state.json records: orderers, peers, chaincode servers) without reading stack.json"
}

// refuseWithoutStackRecord is refuseNetworkInUse for the network abs of
// the system in system whose stack.json cannot be read (unread says why),
// the network recorded with portBase (forceAdvice):
// make up starts each of the system's processes with its output on its
// log in stack.LogDir of system (the network's are in network/logs), so a
// process writing there (procs.Writers, counting a process whose
// descriptors are denied by systemCommand) is one of them. While one
// runs, or when the processes cannot be looked at, the down is refused,
// naming them and --force; with none, the network is stopped, with a
// warning that the record is damaged, which says so when the look may
// have missed some (proc.Scan.Missed), and, for other users' processes it
// could not look at, what to check and do (checkUnread).
func refuseWithoutStackRecord(abs, system string, portBase int, unread error, procs proc.FS, log *slog.Logger) error {
	logs := stack.LogDir(system)
	folders := []string{system}
	if real, err := filepath.EvalSymlinks(system); err == nil && real != system {
		folders = append(folders, real)
	}
	scan, err := procs.Writers(logs, func(cmdline []byte) (proc.Unread, bool) { return systemCommand(cmdline, folders, portBase) })
	if err != nil {
		return fmt.Errorf("%s is the network of the system in %s, whose stack.json cannot be read (%v) and whose processes cannot be looked for by their logs in %s (%v), so nothing was stopped: %s", abs, system, unread, logs, err, forceAdvice(abs, portBase))
	}
	if len(scan.Writers) > 0 {
		return fmt.Errorf("%s is the network of the system in %s, whose stack.json cannot be read (%v), and processes writing the system's logs run (%s), so nothing was stopped: stop them (`kill PID`; %s cannot read the record either), or %s (they would run on without the ledger)", abs, system, unread, strings.Join(scan.Writers, ", "), stack.Command(system, 0, "down"), forceAdvice(abs, portBase))
	}
	msg, attrs := "the system's stack.json cannot be read, but no process writes the system's logs, so none of its processes runs: stopping the network", []any{"system", system, "logs", logs, "err", unread}
	if missed := scan.Missed(); missed != "" {
		msg = "the system's stack.json cannot be read, and no process vcnet could look at writes the system's logs, but it could not look at every process: stopping the network, under any of the system's processes it missed"
		attrs = append(attrs, "missed", missed)
	}
	if len(scan.Named) > 0 {
		attrs = append(attrs, "check", checkUnread(scan.Named, system, portBase))
	}
	log.Warn(msg, attrs...)
	return nil
}

// checkUnread is the advice on the other users' processes named, whose
// descriptors vcnet could not read (proc.Scan.Named), the system in
// system, its logs in stack.LogDir: how root (or the process's user) sees
// whether one writes them, what to do with one that does (it is the
// system's: stop it) and with one that does not (the machine's own, such
// as a Redis run as a service: nothing). A redis-server whose title shows
// a port (proc.Unread.Port) in the range the port plan from portBase
// reserves (0: unknown, no such advice) may take one of the system's
// ports: move it out of the range, or, the system keeping the port base it
// was created with, wipe the system and create it on another base
// (stack.Command's commands, the next range's base suggested).
func checkUnread(named []proc.Unread, system string, portBase int) string {
	var fds []string
	plan := network.Ports{Base: portBase}
	redisInPlan := false
	for _, u := range named {
		fds = append(fds, fmt.Sprintf("/proc/%d/fd/1 /proc/%d/fd/2", u.PID, u.PID))
		redisInPlan = redisInPlan || portBase != 0 && u.Port != 0 && plan.Contains(u.Port)
	}
	advice := "only root or a process's own user can see where its output goes: run `sudo ls -l " + strings.Join(fds, " ") + "`; one whose output is in " + stack.LogDir(system) + " is the system's and runs on without the network: stop it (`sudo kill PID`); one whose output is elsewhere is the machine's own (such as a Redis run as a service: `systemctl status redis-server`) and may be left running"
	if redisInPlan {
		span := plan.Last() + 1 - plan.Base
		next := network.Ports{Base: plan.Base + span} // the range above, else the one below
		if next.Validate() != nil {
			next.Base = plan.Base - span
		}
		advice += fmt.Sprintf("; but a Redis of the machine's own titled with a port in the range the port plan reserves (%d–%d) may take a port the system's processes need: move that Redis to a port outside that range; the system keeps the port base it was created with, so moving the system instead means wiping it (%s, which deletes its election and votes) and creating it again on a base whose range is free, such as %s",
			portBase, plan.Last(), stack.Command(system, 0, "down", "--wipe"), stack.Command(system, next.Base, "up"))
	}
	return advice
}

// projectPrograms are the project's programs that the system runs with
// their output on its logs (Fabric's orderer and peer and the chaincode
// service ballotcc are the network's, logging in its own folder): a
// process running one is counted by its name alone.
func projectPrograms() []string { return []string{"gateway", "batcher", "explorer"} }

// systemCommand reports whether the command line cmdline (as
// /proc/PID/cmdline holds it: arguments each ended by a NUL) may be one of
// the system's processes, and returns what it shows (proc.Unread's
// Program, to name it by, and Port): the program is the first argument's
// file name, or its first word's, since redis-server rewrites its title
// into its first argument ("redis-server 127.0.0.1:27379", "...
// [cluster]"). The machine's programs the system also runs (Redis,
// HAProxy, Prometheus and its Redis exporter) commonly run as system
// services too, so only these count: one of projectPrograms; a
// redis-server whose title's address has a port in the range the port
// plan from portBase reserves (any redis-server when portBase is 0,
// unknown), named with the address in its title (which says where it was
// told to listen, not a socket seen: its sockets are as unreadable as its
// other descriptors) and the range (or that the plan is unknown), the port
// in Port; any program with an argument, or an argument's value after its
// "=", that is one of folders (the system's folder, as given and with
// symbolic links resolved) or a path in it, as the system gives HAProxy,
// Prometheus and the exporter.
func systemCommand(cmdline []byte, folders []string, portBase int) (shown proc.Unread, ok bool) {
	args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
	words := strings.Fields(args[0])
	if len(words) == 0 {
		return proc.Unread{}, false // a kernel thread, or a process that cleared it
	}
	for _, name := range []string{filepath.Base(args[0]), filepath.Base(words[0])} {
		if slices.Contains(projectPrograms(), name) {
			return proc.Unread{Program: name}, true
		}
		if name != "redis-server" || len(words) < 2 {
			continue
		}
		if port := titlePort(words[1]); inPlan(port, portBase) {
			if portBase == 0 {
				return proc.Unread{Program: name + " titled " + words[1] + " (the port plan unknown)", Port: port}, true
			}
			plan := network.Ports{Base: portBase}
			return proc.Unread{Program: fmt.Sprintf("%s titled %s, a port in the range the port plan reserves (%d–%d)", name, words[1], plan.Base, plan.Last()), Port: port}, true
		}
	}
	for _, arg := range args {
		_, value, _ := strings.Cut(arg, "=")
		for _, folder := range folders {
			if inFolder(arg, folder) || inFolder(value, folder) {
				return proc.Unread{Program: filepath.Base(args[0])}, true
			}
		}
	}
	return proc.Unread{}, false
}

// titlePort is the port of the address addr in redis-server's title
// ("127.0.0.1:27379", "*:6379"), 0 when it names none.
func titlePort(addr string) int {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return 0
	}
	port, _ := strconv.Atoi(addr[i+1:])
	return port
}

// inPlan reports whether port lies in the port plan from portBase
// (network.Ports.Contains), or whether it could (portBase 0: the plan is
// unknown).
func inPlan(port, portBase int) bool {
	return portBase == 0 || network.Ports{Base: portBase}.Contains(port)
}

// inFolder reports whether path is the folder folder or a path in it.
func inFolder(path, folder string) bool {
	return path == folder || strings.HasPrefix(path, folder+string(filepath.Separator))
}

// systemOf returns the network folder dir made absolute (symbolic links
// resolved: a link to the system's network is that network) and, when it
// is the network of make up's system (stack.NetworkDir of a folder that
// holds one, stack.HoldsSystem), that system's folder; else "".
func systemOf(dir string) (abs, system string, err error) {
	abs, err = filepath.Abs(dir)
	if err != nil {
		return "", "", err
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	if parent := filepath.Dir(abs); abs == stack.NetworkDir(parent) && stack.HoldsSystem(parent) {
		return abs, parent, nil
	}
	return abs, "", nil
}

// probeProfile is probe --profile path: an address in the profile that
// cannot be dialled fails at once (network.LoadProfile), and so does a
// profile without the Commission's admin, naming the profile and one that
// holds it; a network not yet up is retried (localnet.ProbeProfile).
func probeProfile(ctx context.Context, path string, log *slog.Logger) error {
	p, err := network.LoadProfile(path)
	if err != nil {
		return err
	}
	err = localnet.ProbeProfile(ctx, p, log)
	if errors.Is(err, network.ErrNotInProfile) {
		return fmt.Errorf("--profile %s: %w: the probe needs the Commission's admin (a bundle's profiles/%s.json holds it)", path, err, network.Admin.Name)
	}
	if err != nil {
		return fmt.Errorf("probe through %s: %w", path, err)
	}
	return nil
}

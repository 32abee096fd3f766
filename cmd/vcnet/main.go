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
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/votechain/votechain/internal/cli"
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
	dir := fs.String("dir", ".run/network", "run folder of the network instance (bundles: the new network's folder, .run/deploy unless given)")
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
			cfg.Dir = ".run/deploy" // not make up's network
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
		return refuseWithoutStackRecord(abs, system, portBase, err, realProc, log)
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
// log in system/logs (the network's are in network/logs), so a process
// writing there (procs.logWriters of system) is one of them. While one runs, or when
// the processes cannot be looked at, the down is refused, naming them and
// --force; with none, the network is stopped, with a warning that the
// record is damaged, which says so when the look may have missed some
// (logScan.missed).
func refuseWithoutStackRecord(abs, system string, portBase int, unread error, procs procFS, log *slog.Logger) error {
	logs := filepath.Join(system, "logs")
	scan, err := procs.logWriters(system, portBase)
	if err != nil {
		return fmt.Errorf("%s is the network of the system in %s, whose stack.json cannot be read (%v) and whose processes cannot be looked for by their logs in %s (%v), so nothing was stopped: %s", abs, system, unread, logs, err, forceAdvice(abs, portBase))
	}
	if len(scan.writers) > 0 {
		return fmt.Errorf("%s is the network of the system in %s, whose stack.json cannot be read (%v), and processes writing the system's logs run (%s), so nothing was stopped: stop them (`kill PID`; %s cannot read the record either), or %s (they would run on without the ledger)", abs, system, unread, strings.Join(scan.writers, ", "), stack.Command(system, 0, "down"), forceAdvice(abs, portBase))
	}
	msg, attrs := "the system's stack.json cannot be read, but no process writes the system's logs, so none of its processes runs: stopping the network", []any{"system", system, "logs", logs, "err", unread}
	if missed := scan.missed(); missed != "" {
		msg = "the system's stack.json cannot be read, and no process vcnet could look at writes the system's logs, but it could not look at every process: stopping the network, under any of the system's processes it missed"
		attrs = append(attrs, "missed", missed)
	}
	log.Warn(msg, attrs...)
	return nil
}

// procFS is the /proc that logWriters looks at: its folder, how a
// descriptor's link is read and a file's owner found (tests give a tree,
// failures and owners of their own).
type procFS struct {
	root     string
	readlink func(string) (string, error)
	owner    func(string) (uid int, err error)
}

// realProc is the machine's /proc.
var realProc = procFS{"/proc", os.Readlink, fileOwner}

// fileOwner is the uid owning the file at path (symbolic links followed).
// For /proc/PID it is the process's user, root for one that is not
// dumpable (proc(5)), such as ssh-agent or a setuid program.
func fileOwner(path string) (int, error) {
	info, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, fmt.Errorf("%s: no owner known", path)
	}
	return int(st.Uid), nil
}

// logScan is what logWriters saw: the processes writing the folder, and
// what may have hidden some of the system's from it.
type logScan struct {
	writers    []string
	unreadable int      // processes running as a logs' owner whose descriptors could not be read
	named      []string // other users' processes whose descriptors could not be read and whose command line names the system (systemCommand), each as "PID n (PROGRAM)"
	hidepid    string   // /proc's hidepid mount option, when it may hide a logs' owner's processes from this one
}

// missed says why s may have missed processes, "" if none could be.
func (s logScan) missed() string {
	var why []string
	if s.hidepid != "" {
		why = append(why, "/proc is mounted with hidepid="+s.hidepid+", which hides other users' processes, and the logs belong to another user")
	}
	if s.unreadable > 0 {
		why = append(why, fmt.Sprintf("the descriptors of %d %s running as the logs' owner could not be read", s.unreadable, processes(s.unreadable)))
	}
	if len(s.named) > 0 {
		why = append(why, fmt.Sprintf("the descriptors of %d %s of another user whose command line names one of the system's programs, ports or paths could not be read (%s)", len(s.named), processes(len(s.named)), strings.Join(s.named, ", ")))
	}
	return strings.Join(why, "; ")
}

// processes is "process" for n of 1, else "processes".
func processes(n int) string {
	if n == 1 {
		return "process"
	}
	return "processes"
}

// logWriters names the processes, this one aside, whose standard output
// or error is a file in the folder logs of the system in the folder
// system (compared as the kernel gives the file's path: symbolic links
// resolved), each as "PID n (output in FILE)". A process whose
// descriptors cannot be read is passed over, and counted as a gap in the
// scan only when it could be one of the system's: reading was not
// permitted (not: it exited meanwhile), and it runs as a user owning the
// logs folder or a file in it (logOwners; any user when those cannot be
// read), or its command line, which /proc lets anyone read, marks it as
// one of the system's (systemCommand: a project program, a redis-server on
// a port of the plan from portBase, a path in the system's folder),
// whatever its user: make up run again by another user (root) appends to
// the logs that the first made. Another process of another user is not
// one the system started, and neither is one /proc gives to root for not
// being dumpable (ssh-agent), which none of the system's programs is,
// unless root owns the logs. So root's daemons, the machine's own Redis,
// HAProxy and Prometheus services, and such processes of the caller's,
// whose descriptors a user other than root cannot read, are no gap. Nor
// is a process /proc does not list: the scan notes
// /proc's hidepid mount option, read from self/mounts, only when it may
// hide one of the system's (hidepidHides).
func (p procFS) logWriters(system string, portBase int) (logScan, error) {
	logs := filepath.Join(system, "logs")
	if real, err := filepath.EvalSymlinks(logs); err == nil {
		logs = real
	}
	folders := []string{system}
	if real, err := filepath.EvalSymlinks(system); err == nil && real != system {
		folders = append(folders, real)
	}
	entries, err := os.ReadDir(p.root)
	if err != nil {
		return logScan{}, err
	}
	owners := p.logOwners(logs)
	mounts, _ := os.ReadFile(filepath.Join(p.root, "self", "mounts")) // unread: no hidepid known
	var scan logScan
	if option, gid := hidepid(string(mounts)); option != "" && hidepidHides(gid, owners) {
		scan.hidepid = option
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		for _, fd := range []string{"1", "2"} {
			file, err := p.readlink(filepath.Join(p.root, e.Name(), "fd", fd))
			if errors.Is(err, fs.ErrPermission) {
				if uid, err := p.owner(filepath.Join(p.root, e.Name())); err == nil && (owners == nil || owners[uid]) {
					scan.unreadable++
				} else if cmdline, err := os.ReadFile(filepath.Join(p.root, e.Name(), "cmdline")); err == nil {
					if program, ok := systemCommand(cmdline, folders, portBase); ok {
						scan.named = append(scan.named, fmt.Sprintf("PID %d (%s)", pid, program))
					}
				}
				break
			}
			if err == nil && strings.HasPrefix(file, logs+string(filepath.Separator)) {
				scan.writers = append(scan.writers, fmt.Sprintf("PID %d (output in %s)", pid, file))
				break
			}
		}
	}
	return scan, nil
}

// projectPrograms are the project's programs that the system runs with
// their output on its logs (Fabric's orderer and peer and the chaincode
// service ballotcc are the network's, logging in its own folder): a
// process running one is counted by its name alone.
func projectPrograms() []string { return []string{"gateway", "batcher", "explorer"} }

// planSpan is how far above its base a port plan reaches
// (network.Ports.Validate: every port of the plan lies within 400 of it).
const planSpan = 400

// systemCommand reports whether the command line cmdline (as
// /proc/PID/cmdline holds it: arguments each ended by a NUL) may be one of
// the system's processes, and returns the program it runs: the first
// argument's file name, or its first word's, since redis-server rewrites
// its title into its first argument ("redis-server 127.0.0.1:27379",
// "... [cluster]"). The machine's programs the system also runs (Redis,
// HAProxy, Prometheus and its Redis exporter) commonly run as system
// services too, so only these count: one of projectPrograms; a
// redis-server listening on a port of the plan from portBase (any
// redis-server when portBase is 0, unknown); any program with an argument,
// or an argument's value after its "=", that is one of folders (the
// system's folder, as given and with symbolic links resolved) or a path
// in it, as the system gives HAProxy, Prometheus and the exporter.
func systemCommand(cmdline []byte, folders []string, portBase int) (program string, ok bool) {
	args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
	words := strings.Fields(args[0])
	if len(words) == 0 {
		return "", false // a kernel thread, or a process that cleared it
	}
	for _, name := range []string{filepath.Base(args[0]), filepath.Base(words[0])} {
		if slices.Contains(projectPrograms(), name) {
			return name, true
		}
		if name == "redis-server" && len(words) > 1 && inPlan(titlePort(words[1]), portBase) {
			return name, true
		}
	}
	for _, arg := range args {
		_, value, _ := strings.Cut(arg, "=")
		for _, folder := range folders {
			if inFolder(arg, folder) || inFolder(value, folder) {
				return filepath.Base(args[0]), true
			}
		}
	}
	return "", false
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

// inPlan reports whether port lies in the port plan from portBase, or
// whether it could (portBase 0: the plan is unknown).
func inPlan(port, portBase int) bool {
	return portBase == 0 || port >= portBase && port < portBase+planSpan
}

// inFolder reports whether path is the folder folder or a path in it.
func inFolder(path, folder string) bool {
	return path == folder || strings.HasPrefix(path, folder+string(filepath.Separator))
}

// logOwners is the set of uids owning the folder logs or a file in it,
// nil when the folder cannot be read (then any user's process may be one
// of the system's).
func (p procFS) logOwners(logs string) map[int]bool {
	entries, err := os.ReadDir(logs)
	if err != nil {
		return nil
	}
	paths := []string{logs}
	for _, e := range entries {
		paths = append(paths, filepath.Join(logs, e.Name()))
	}
	owners := map[int]bool{}
	for _, path := range paths {
		if uid, err := p.owner(path); err == nil {
			owners[uid] = true
		}
	}
	return owners
}

// hidepidHides reports whether /proc mounted with hidepid (and gid=gid,
// -1 for none) may hide from this process one of the system's, whose
// logs owners own (logOwners; nil: unknown): hidepid hides only other
// users' processes, and none from a member of its gid= group.
func hidepidHides(gid int, owners map[int]bool) bool {
	if gid >= 0 && inGroup(gid) {
		return false
	}
	if owners == nil {
		return true
	}
	for uid := range owners {
		if uid != os.Geteuid() {
			return true
		}
	}
	return false
}

// inGroup reports whether this process is a member of group gid: its
// effective group or one of its supplementary groups.
func inGroup(gid int) bool {
	if os.Getegid() == gid {
		return true
	}
	groups, _ := os.Getgroups()
	return slices.Contains(groups, gid)
}

// hidepid is the hidepid option of the proc file system mounted on /proc
// in mounts (as /proc/self/mounts lists them; the last such mount is the
// one seen), "" if it has none or one that hides nothing (0, off), and
// its gid option, the group whose members see every process (-1: none).
func hidepid(mounts string) (option string, gid int) {
	gid = -1
	for _, line := range strings.Split(mounts, "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || f[1] != "/proc" || f[2] != "proc" {
			continue
		}
		option, gid = "", -1
		for _, opt := range strings.Split(f[3], ",") {
			if v, ok := strings.CutPrefix(opt, "hidepid="); ok && v != "0" && v != "off" {
				option = v
			}
			if v, ok := strings.CutPrefix(opt, "gid="); ok {
				if n, err := strconv.Atoi(v); err == nil {
					gid = n
				}
			}
		}
	}
	return option, gid
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

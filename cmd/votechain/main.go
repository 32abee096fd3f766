// Command votechain runs the whole Votechain system on this machine: the
// Fabric consortium, redis-server, batchers, the gateway and the explorer.
//
//	votechain up       bring everything up (idempotent); prints the URLs
//	votechain down     stop everything by PID (--wipe deletes all data)
//	votechain status   what runs where
//	votechain clean    delete a stopped system's data (as down --wipe); refused while it runs
//	votechain close    close the election now (Commission admin)
//	votechain finalise freeze the results once every accepted vote is on the ledger
//	                   and every counted vote in an intake log (--accept-unlogged: or not)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/gateway/election"
	"github.com/votechain/votechain/internal/cli"
	"github.com/votechain/votechain/internal/electionsetup"
	"github.com/votechain/votechain/internal/proc"
	"github.com/votechain/votechain/internal/rundir"
	"github.com/votechain/votechain/internal/stack"
	"github.com/votechain/votechain/network"
)

const usage = `Usage: votechain [flags] COMMAND

Commands:
  up       bring the whole system up (network, Redis, election, batchers, gateway, explorer)
  down     stop every process by PID; --wipe also deletes the run folder's data (ledgers,
           crypto, Redis data, roll, secrets, logs) but its deploy, bench and test folders;
           a --dir holding files but no .votechain-run (not made by votechain: $HOME
           mistyped) is refused, deleting nothing; a system whose records cannot be
           opened (damaged, an older version's) is wiped after stopping what they name
  status   show what runs on which address and port
  clean    delete the run folder's data as down --wipe does, but only while none of the
           system's processes runs: refused, naming them, while any does (stop it with
           down first), also when its records cannot be opened
  close    close the election on the ledger now; gateways refuse votes within 5 s
  finalise freeze the results of the closed election; refused while accepted votes
           are not yet on the ledger (it says how many remain), while an intake log entry is
           not on the ledger (MISSING), while the ledger counts votes no intake log holds
           (UNLOGGED: it says how many per state; --accept-unlogged overrides), within
           5 s of the close, or when a batch was committed after its check (run it again)

A flag whose help begins "with COMMAND:" goes with that command alone: given on the
command line to another it is refused (exit 2); set in the environment, the others
ignore it (they take the system as up made it).`

func main() {
	cli.SilenceRedis() // up (which waits for redis-server to start) and finalise report Redis's errors
	cli.Main("votechain", run)
}

// run is the command, calling the system's own ledger (systemDeps).
func run(ctx context.Context) error { return runWith(ctx, systemDeps()) }

// deps is the calls of the ledger run makes, which a test replaces to see
// what run makes of a refusal.
type deps struct {
	// closeElection is close's call, (*stack.Stack).CloseElection.
	closeElection func(*stack.Stack, context.Context) (*ballot.Election, error)
	// up is up's bring-up, (*stack.Stack).Up.
	up func(*stack.Stack, context.Context) error
}

// systemDeps returns the calls of the system's ledger.
func systemDeps() deps {
	return deps{closeElection: (*stack.Stack).CloseElection, up: (*stack.Stack).Up}
}

// runWith is run calling the ledger through d.
func runWith(ctx context.Context, d deps) (err error) {
	defer func() { err = explainClockRefusal(err, time.Now()) }()
	fs := flag.NewFlagSet("votechain", flag.ContinueOnError)
	dir := fs.String("dir", stack.DefaultDir, "run folder (make's targets act on "+stack.DefaultDir+" alone)")
	net := cli.NetworkFlags(fs)
	binDir := fs.String("bin", "bin", "folder of the project's commands")
	up := newUpFlags(fs)
	wipe := fs.Bool("wipe", false, "delete all data")
	acceptUnlogged := fs.Bool("accept-unlogged", false, "finalise although the ledger counts votes that no intake log holds (UNLOGGED: accepted by no gateway); they stay counted in the frozen results, and finalise prints and logs how many per state (the election record has no place to note them)")
	cli.OnlyWith(fs, "down", "wipe")
	cli.OnlyWith(fs, "finalise", "accept-unlogged")
	cli.CommandLineOnly(fs, "wipe", "accept-unlogged")
	logFlags := cli.LogFlags(fs)
	fs.Usage = cli.Usage(fs, "VOTECHAIN", usage, "")
	cmd, err := cli.ParseCommand(fs, "VOTECHAIN", os.Args[1:], "up", "down", "status", "clean", "close", "finalise")
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
	cfg := stack.Config{Dir: *dir, PortBase: net.PortBase, BinDir: *binDir, FabricBin: net.FabricBin, Builder: network.BuilderDir, Log: log}
	if cmd == "up" { // refused now, not after minutes of bring-up
		if err := up.configure(fs, &cfg); err != nil {
			return err
		}
	}
	s, err := stack.New(cfg)
	if errors.Is(err, rundir.ErrUnreadable) && (cmd == "down" && *wipe || cmd == "clean") {
		return wipeUnopened(cmd, *dir, err, log)
	}
	if err != nil {
		return err
	}
	switch cmd {
	case "up":
		began := time.Now()
		if err := d.up(s, ctx); err != nil {
			return err
		}
		fmt.Printf("\nVotechain is up (%.1f s).\n", time.Since(began).Seconds())
		fmt.Printf("  gateway   %s/api/v1/election\n", s.GatewayURL())
		fmt.Printf("  redis     %s\n", s.RedisAddr())
		fmt.Printf("  results   %s/api/v1/results (one contest: /api/v1/results/{contest})\n", s.GatewayURL())
		fmt.Printf("  explorer  %s/ (operator page: %s/ops)\n", s.ExplorerURL(), s.ExplorerURL())
		fmt.Printf("  prometheus %s/alerts (targets: %s/targets)\n", s.PrometheusURL(), s.PrometheusURL())
		fmt.Printf("  voter roll with credentials (demo only): %s\n", s.RollCSV())
		fmt.Printf("  status: %s; stop: %s (%s also deletes its data)\n", stack.Command(*dir, 0, "status"), stack.Command(*dir, 0, "down"), stack.Command(*dir, 0, "down", "--wipe"))
		return nil
	case "down":
		return s.Down(*wipe)
	case "clean":
		return clean(ctx, s, *dir)
	case "status":
		for _, st := range s.Status() {
			state := "stopped"
			if st.Running {
				state = "running"
			}
			fmt.Printf("%-14s %-8s pid %-8d %s", st.Name, state, st.PID, st.Addr)
			if st.Note != "" {
				fmt.Printf(" (%s)", st.Note)
			}
			fmt.Println()
		}
		s.Network().Status(ctx).Print(os.Stdout)
		return nil
	case "close":
		e, err := d.closeElection(s, ctx)
		if err != nil {
			return err
		}
		fmt.Printf("election %s closed; run `votechain finalise` once the batchers have committed every accepted vote\n", e.ID)
		return nil
	case "finalise":
		e, unlogged, err := s.FinaliseElection(ctx, stack.FinaliseOptions{AcceptUnlogged: *acceptUnlogged, Progress: os.Stderr})
		if err != nil {
			return err
		}
		if len(unlogged) > 0 {
			fmt.Printf("election %s finalised with --accept-unlogged: the ledger counts %s\nThey stay counted in the results.\n", e.ID, unlogged)
			return nil
		}
		fmt.Printf("election %s finalised\n", e.ID)
		return nil
	}
	panic("votechain: command " + cmd + " has no case") // ParseCommand let through only the commands above
}

// explainClockRefusal adds to err, when it is the ledger's refusal of a
// transaction's time (ballot.ErrClockSkew: up's election set-up, roll and
// log keys, an election already on the ledger's included, close, finalise,
// all signed with this machine's clock), what
// it means and the fix, with now, this machine's clock, to compare; err
// stays wrapped, so the exit status is any ledger failure's (1). Other
// errors are returned as they are.
func explainClockRefusal(err error, now time.Time) error {
	if !errors.Is(err, ballot.ErrClockSkew) {
		return err
	}
	return fmt.Errorf("%w\nThe ledger refused the transaction for this machine's clock (now %s). %s, then run the command again.",
		err, now.UTC().Format(time.RFC3339), ballot.ClockSkewAdvice())
}

// clean deletes the data of the system s in dir, as down --wipe does,
// only while none of its processes runs: it never stops a running
// election to delete its ledger, but refuses, naming what runs.
func clean(ctx context.Context, s *stack.Stack, dir string) error {
	if running := runningProcesses(ctx, s); len(running) > 0 {
		return refuseCleanWhileRunning(dir, running)
	}
	return s.Down(true)
}

// wipeUnopened is down --wipe (cmd "down") or clean of the run folder dir
// whose system New refused (refusal: a damaged or older record,
// rundir.ErrUnreadable), so that its advice to wipe it works: down --wipe
// stops every process the folder's records name, without opening the
// system, then wipes it (stack.WipeUnopened); clean wipes it only if none
// of them runs, naming those that do.
func wipeUnopened(cmd, dir string, refusal error, log *slog.Logger) error {
	log.Warn("the system cannot be opened; wiping its run folder by its process records alone", "dir", dir, "err", refusal)
	if cmd == "down" {
		return stack.WipeUnopened(dir, log)
	}
	running, err := stack.RecordedRunning(dir)
	if err != nil {
		return err
	}
	if len(running) > 0 {
		return refuseCleanWhileRunning(dir, running)
	}
	return stack.WipeRunDir(dir)
}

// refuseCleanWhileRunning is clean's refusal of the system in dir while
// the processes running run, saying how to stop it, and to wipe it.
func refuseCleanWhileRunning(dir string, running []string) error {
	return fmt.Errorf("the system in %s is running (%s): clean deletes a stopped system's data only; stop it first with %s (%s stops it and deletes its data)",
		dir, strings.Join(running, ", "), stack.Command(dir, 0, "down"), stack.Command(dir, 0, "down", "--wipe"))
}

// runningProcesses names the processes of s that run: the application's
// (Status) and the network's nodes.
func runningProcesses(ctx context.Context, s *stack.Stack) []string {
	var names []string
	for _, st := range s.Status() {
		if st.Running {
			names = append(names, st.Name)
		}
	}
	for _, p := range s.Network().Status(ctx).Processes {
		if p.Running {
			names = append(names, p.Name)
		}
	}
	return names
}

// upFlags are up's own settings, marked cli.OnlyWith "up": another command
// refuses them on the command line, naming the flag and up, and ignores
// them in the environment (VOTECHAIN_VOTERS...), taking the system's own
// (its shape and placement as up recorded them).
type upFlags struct {
	election                   string
	window                     time.Duration
	voters, batchers, gateways int
	redis                      string
	ledgerPriority             *proc.Priority
	hosts                      string
}

// newUpFlags registers up's settings on fs: --election, --window,
// --voters, --batchers, --gateways, --redis, --ledger-priority (and its
// older form --ledger-nice) and --hosts.
func newUpFlags(fs *flag.FlagSet) *upFlags {
	u := &upFlags{}
	fs.StringVar(&u.election, "election", "config/election.json", "election template for a new election: id, name, states, contests, batchers (config/election.json: one race; config/referendum.json: three questions); for a new system (no network in --dir) checked before anything starts: its batchers must name "+network.Batcher.CommonName())
	fs.DurationVar(&u.window, "window", 24*time.Hour, "voting window of a new election, from now; at least 1s")
	fs.IntVar(&u.voters, "voters", 100_000, "synthetic voters on the roll of a new election")
	fs.IntVar(&u.batchers, "batchers", 0, "batcher processes sharing the lanes (0: as the last up, else 1)")
	fs.IntVar(&u.gateways, "gateways", 0, "gateway processes; more than one run behind HAProxy on the gateway's port (0: as the last up, else 1)")
	fs.StringVar(&u.redis, "redis", "", "Redis: single (one redis-server) or cluster (3 masters with a replica each); an existing system keeps its own (empty: as the last up, else single)")
	u.ledgerPriority = stack.LedgerPriorityFlag(fs, "up")
	fs.StringVar(&u.hosts, "hosts", "", "place a new system on several addresses of this machine, commission=ADDR,observers=ADDR,clients=ADDR (e.g. 127.0.0.2, .3, .4): each organisation's nodes on its address, Redis, batchers, gateways, explorer and monitoring on the clients' (empty: all on 127.0.0.1, or as the system was created; separate machines: docs/operations.md)")
	cli.OnlyWith(fs, "up", "election", "window", "voters", "batchers", "gateways", "redis", "ledger-priority", "ledger-nice", "hosts")
	return u
}

// configure refuses, as usage errors naming the flag, settings up cannot
// use: a roll of no voters, a voting window under a second, a negative
// number of batchers or gateways, an unknown Redis mode, an election
// template that does not load (--election given, or any for a new system),
// a new system's template whose batchers do not list the batcher
// processes' identity (stack.CheckNewTemplate; a system with a network may
// hold its election already, which no template changes), a --hosts
// placement that does not parse (a bring-up takes minutes, and these
// failed only at its end, or were taken); else it sets them in cfg (fs
// holds the parsed flags).
func (u *upFlags) configure(fs *flag.FlagSet, cfg *stack.Config) error {
	if u.voters < 1 {
		return cli.Usagef("--voters is %d: a new election's roll needs at least 1 voter", u.voters)
	}
	if u.batchers < 0 || u.gateways < 0 {
		return cli.Usagef("--batchers %d, --gateways %d: give a count, or 0 for as many as the last up", u.batchers, u.gateways)
	}
	if err := cli.DurationsAtLeast(fs, electionsetup.MinWindow, "window"); err != nil {
		return err
	}
	if err := stack.ValidRedis(u.redis); err != nil {
		return cli.Usagef("--redis: %v", err)
	}
	var templateErr error
	switch {
	case !stack.HasNetwork(cfg.Dir):
		templateErr = stack.CheckNewTemplate(u.election)
	case cli.IsSet(fs, "election"):
		_, templateErr = election.Template(u.election)
	}
	if templateErr != nil {
		return cli.Usagef("--election: %v (config/election.json: one race; config/referendum.json: three questions)", templateErr)
	}
	if u.hosts != "" {
		placement, err := network.ParseSpread(u.hosts)
		if err != nil {
			return cli.Usagef("%v", err)
		}
		cfg.Hosts = placement // else as created, else one host
	}
	cfg.Election, cfg.Window, cfg.Voters = u.election, u.window, u.voters
	cfg.Batchers, cfg.Gateways, cfg.Redis, cfg.LedgerPriority = u.batchers, u.gateways, u.redis, *u.ledgerPriority
	return nil
}

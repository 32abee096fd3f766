package stack

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/redis/go-redis/v9"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/gateway/election"
	"github.com/votechain/votechain/gateway/intakelog"
	"github.com/votechain/votechain/gateway/roll"
	"github.com/votechain/votechain/internal/cli"
	"github.com/votechain/votechain/internal/electionsetup"
	"github.com/votechain/votechain/internal/privatefile"
	"github.com/votechain/votechain/internal/redisserver"
	"github.com/votechain/votechain/network"
)

// ensureElection makes sure the ledger holds an election and its sealed
// roll, and Redis the roll.
// A new election gets a synthetic roll of cfg.Voters voters over the
// template's states, and a window from now for cfg.Window.
func (s *Stack) ensureElection(ctx context.Context) error {
	if err := s.ensureSecret(); err != nil {
		return err
	}
	secret, err := cli.LoadSecret(s.SecretFile())
	if err != nil {
		return err
	}
	admin, err := s.dialAdmin(ctx)
	if err != nil {
		return err
	}
	defer admin.Close()
	ledger := admin.Ballot()

	existing, err := ledger.Election(ctx)
	if err != nil && !errors.Is(err, ballot.ErrNotFound) {
		return err
	}
	var states, contests []string
	var electionID string
	if existing != nil {
		states, contests, electionID = existing.States, existing.ContestIDs(), existing.ID
	} else {
		tmpl, err := s.template()
		if err != nil {
			return err
		}
		states, contests, electionID = tmpl.States, tmpl.ContestIDs(), tmpl.ID
	}
	if _, err := os.Stat(s.RollCSV()); err != nil {
		if existing != nil {
			return fmt.Errorf("the ledger has election %s but its roll %s is missing: wipe the system with %s", existing.ID, s.RollCSV(), Command(s.cfg.Dir, s.cfg.PortBase, "down", "--wipe"))
		}
		if err := s.generateRoll(ctx, states); err != nil {
			return err
		}
	}
	opts, err := s.RedisOptions(redisserver.UserRoll)
	if err != nil {
		return err
	}
	rdb := redisserver.NewClient(opts)
	defer rdb.Close()
	summary, err := s.loadRoll(ctx, rdb, secret, electionID, states, contests)
	if err != nil {
		return err
	}
	logKey, err := intakelog.EnsureKey(s.LogKeyFile())
	if err != nil {
		return err
	}
	identity, err := s.batcherIdentity()
	if err != nil {
		return err
	}
	plan := electionsetup.Plan{Roll: summary, Window: s.cfg.Window, BatcherIdentity: identity, BatcherRemedy: batcherRemedy(s.cfg.Dir, s.cfg.PortBase),
		LogKeys: []ed25519.PublicKey{logKey.Public().(ed25519.PublicKey)}}
	if existing == nil {
		if plan.Template, err = election.Template(s.cfg.Election); err != nil {
			return err
		}
	}
	p := cli.NewProgress(os.Stderr, "writing voter roll to the ledger", int64(len(summary.Roll)))
	plan.Progress = p
	defer p.Finish()
	if existing == nil {
		_, err = electionsetup.Ensure(ctx, ledger, plan, s.log)
		return err
	}
	return completeElection(ctx, ledger, plan, s.log)
}

// batcherRemedy is up's fix for an election on the ledger whose batchers
// do not list the network's batcher identity (electionsetup.Plan.BatcherRemedy):
// up runs its batchers with the certificate its network issued them, so
// they cannot sign as another identity, and the one fix is a new election
// on a wiped system (dir, with port base portBase), brought up with the
// settings it had: the wipe deletes the placement and shape it recorded,
// and the up command (make up for make's) names none of them.
func batcherRemedy(dir string, portBase int) string {
	return fmt.Sprintf("up runs its batchers with its network's own certificate, so wipe the system with %s and bring it up again with %s and the settings it was brought up with "+
		"(its election template, hosts, gateways, batchers and Redis mode: the wipe deletes those it recorded) for a new election", Command(dir, portBase, "down", "--wipe"), Command(dir, portBase, "up"))
}

// completeElection checks the election already on the ledger against plan
// (electionsetup.Record) and completes what one set up by an earlier
// version may lack, a sealed roll and a registered log key. It runs without
// them, so their failures are logged as warnings, except a refusal of this
// machine's clock (ballot.ErrClockSkew): it fails up, as it would a new
// election's set-up, since the gateway's anchors and the batchers' commits,
// signed with the same clock, would be refused too (votechain explains it).
func completeElection(ctx context.Context, ledger electionsetup.Ledger, plan electionsetup.Plan, log *slog.Logger) error {
	e, _, err := electionsetup.Record(ctx, ledger, plan)
	if err != nil {
		return err
	}
	log.Info("election on the ledger", "id", e.ID, "states", len(e.States), "closes_at", e.ClosesAt)
	if _, err := electionsetup.SealRoll(ctx, ledger, plan); err != nil {
		if errors.Is(err, ballot.ErrClockSkew) {
			return fmt.Errorf("seal the roll of election %s: %w", e.ID, err)
		}
		log.Warn("the roll is not sealed on the ledger: eligibility is not enforced", "err", err)
	}
	if _, err := electionsetup.RegisterLogKeys(ctx, ledger, plan); err != nil {
		if errors.Is(err, ballot.ErrClockSkew) {
			return fmt.Errorf("register the intake log key of election %s: %w", e.ID, err)
		}
		log.Warn("the gateway's log key is not registered: its tree heads cannot be anchored", "err", err)
	}
	return nil
}

// LogKeyFile is the gateway's intake log signing key (0600).
func (s *Stack) LogKeyFile() string { return s.path("secrets", "intakelog", "gateway.key") }

// template reads the election template (id, name, states, contests,
// batchers) and checks that it lets the batcher processes commit.
func (s *Stack) template() (ballot.Election, error) {
	return loadTemplate(s.cfg.Election, s.batcherIdentity)
}

// loadTemplate reads the election template at path and checks that its
// batchers list the batcher processes' identity, which batcherIdentity
// gives (electionsetup.BatcherListed).
func loadTemplate(path string, batcherIdentity func() (string, error)) (ballot.Election, error) {
	e, err := election.Template(path)
	if err != nil {
		return e, err
	}
	identity, err := batcherIdentity()
	if err != nil {
		return e, err
	}
	return e, electionsetup.BatcherListed(&e, "election template "+path, identity)
}

// HasNetwork reports whether the run folder dir holds its system's network
// (its state.json): without one, the ledger holds no election yet, and Up
// sets one up from the template.
func HasNetwork(dir string) bool {
	_, err := os.Stat(network.Layout{Dir: NetworkDir(dir)}.State())
	return err == nil
}

// CheckNewTemplate checks, before anything starts, the election template
// at path that Up would set a new system's election up from: it must load,
// and its batchers must list the identity the new network issues the
// batcher processes (network.Batcher.CommonName), else Up would fail on it
// only after minutes of bring-up. It is for a run folder without a network
// (HasNetwork); a system's own network may hold an election already, which
// no template changes, and Up checks the template against the network's
// batcher profile when it sets an election up.
func CheckNewTemplate(path string) error {
	_, err := loadTemplate(path, func() (string, error) { return network.Batcher.CommonName(), nil })
	return err
}

// generateRoll writes a synthetic roll with a progress bar; it stops once
// ctx ends, before the roll is in place.
func (s *Stack) generateRoll(ctx context.Context, states []string) error {
	p := cli.NewProgress(os.Stderr, "generating voter roll", int64(s.cfg.Voters))
	return s.WriteRoll(func(w io.Writer) error {
		if err := roll.Generate(ctx, w, s.cfg.Voters, states, p); err != nil {
			return err
		}
		p.Finish()
		return nil
	})
}

// WriteRoll writes the roll the stack loads (RollCSV) with write, whole or
// not at all, mode 0600 (privatefile.Write: its temporary copy beside the
// roll, every credential in it, is removed if write fails, ctx ending
// included). First it removes, logging each, the copies an earlier write
// killed outright left (privatefile.RemoveStale) and voters.csv.tmp, the
// copy earlier versions wrote (privatefile.RemoveOlderCopy).
func (s *Stack) WriteRoll(write func(io.Writer) error) error {
	path := s.RollCSV()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	privatefile.RemoveStale(path, s.log)
	privatefile.RemoveOlderCopy(path, s.log)
	return privatefile.Write(path, write)
}

// loadRoll loads the roll into Redis (idempotent) and returns its summary.
// It hands roll.Load the file itself, which can seek (csv buffers its
// reading), so that a voter listed twice is named with both lines.
func (s *Stack) loadRoll(ctx context.Context, rdb redis.UniversalClient, secret []byte, electionID string, states, contests []string) (roll.Summary, error) {
	f, err := os.Open(s.RollCSV())
	if err != nil {
		return roll.Summary{}, err
	}
	defer f.Close()
	read := cli.NewProgress(os.Stderr, "reading voter roll", int64(s.cfg.Voters))
	enrolled := cli.NewProgress(os.Stderr, "loading voter roll into Redis", int64(s.cfg.Voters*len(contests)))
	summary, err := roll.Load(ctx, f, secret, roll.Options{ElectionID: electionID, Contests: contests, States: states, Redis: rdb, FalsePositiveRate: 0.0001, Progress: read, Enrolled: enrolled, Entries: true})
	read.Finish()
	enrolled.Finish()
	if err != nil {
		return roll.Summary{}, fmt.Errorf("load roll: %w", err)
	}
	s.log.Info("voter roll loaded", "voters", summary.Voters, "contests", len(contests), "entries", summary.Entries, "roll_root", summary.Root)
	return summary, nil
}

// batcherIdentity is the certificate common name the batcher processes
// sign with, read from their profile.
func (s *Stack) batcherIdentity() (string, error) {
	profile, err := network.LoadProfile(s.net.Layout().ComponentProfile(network.Batcher.Name))
	if err != nil {
		return "", err
	}
	cn, err := network.CommonName(profile.Orgs[network.Batcher.Org].Users[network.Batcher.User].Cert)
	if err != nil {
		return "", fmt.Errorf("batcher identity: %w", err)
	}
	return cn, nil
}

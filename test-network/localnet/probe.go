package localnet

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/votechain/votechain/internal/proc"
	"github.com/votechain/votechain/network"
	"github.com/votechain/votechain/network/fabricclient"
)

// Probe proves the network works end to end: a transaction through the
// Commission's gateway, endorsed by both organisations, ordered and committed,
// then read back with an evaluate. It retries while the network settles (Raft
// leader election, gossip discovery), for at most 60 s; but it fails at once
// when a peer or chaincode server this instance started has exited, since
// every one of them takes part.
func (n *Network) Probe(ctx context.Context) error {
	if gone := n.exitedEndorsers(); len(gone) > 0 {
		return fmt.Errorf("not probed: %s; the probe needs every peer and chaincode server: `vcnet up` starts what has stopped, and if one exits again its log says why",
			strings.Join(gone, "; "))
	}
	profile, err := n.Profile()
	if err != nil {
		return err
	}
	if err := ProbeProfile(ctx, profile, n.log); err != nil {
		return fmt.Errorf("%w (logs in %s)", err, n.layout.LogDir())
	}
	return nil
}

// exitedEndorsers describes each peer and chaincode server this instance
// started (its PID on record) that no longer runs: why (proc.Why), and its
// log.
func (n *Network) exitedEndorsers() []string {
	procs := n.processes()
	var gone []string
	for _, o := range network.PeerOrgs() {
		for _, name := range []string{network.PeerProcess(o), network.ChaincodeProcess(o)} {
			p, ok := procs[name]
			if !ok {
				continue // no chaincode deployed yet
			}
			if why := proc.Why(n.state.PIDs[name], p.Bin); why != "" {
				gone = append(gone, fmt.Sprintf("%s %s (log: %s)", name, why, n.layout.Log(name)))
			}
		}
	}
	return gone
}

// ProbeProfile is Probe through the given connection profile, which must
// hold the Commission's admin: a network this package did not start (one
// run from its bundles) is probed the same way.
func ProbeProfile(ctx context.Context, profile network.Profile, log *slog.Logger) error {
	conn, err := fabricclient.Dial(ctx, profile, "Commission", fabricclient.WithUser("Admin"), // the probe is admins only
		fabricclient.WithTimeouts(10*time.Second, 15*time.Second, 10*time.Second, 30*time.Second))
	if err != nil {
		return err
	}
	defer conn.Close()
	probe := conn.Contract("probe")
	key := "readiness"
	value := strconv.FormatInt(time.Now().UnixNano(), 10)
	began := time.Now()
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for attempt := 1; ; attempt++ {
		_, err = probe.SubmitTransaction("Put", key, value)
		if err == nil {
			break
		}
		log.Debug("probe not yet committed", "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("network not ready after %s: last probe error: %w", time.Since(began).Round(time.Second), err)
		case <-time.After(300 * time.Millisecond):
		}
	}
	got, err := probe.EvaluateTransaction("Get", key)
	if err != nil {
		return fmt.Errorf("read back probe: %w", err)
	}
	if string(got) != value {
		return fmt.Errorf("probe read back %q, wrote %q", got, value)
	}
	log.Info("probe committed and read back", "elapsed", time.Since(began).Round(time.Millisecond).String())
	return nil
}

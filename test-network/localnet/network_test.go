package localnet_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"

	"github.com/votechain/votechain/network"
	"github.com/votechain/votechain/network/fabricclient"
	"github.com/votechain/votechain/test-network/localnet"
	"github.com/votechain/votechain/test-network/nettest"
)

// TestConsortium brings a real network up and checks what the consortium
// promises: both organisations must endorse, one alone is refused, the
// ordering service survives the loss of one of three orderers, a chaincode
// redeploy keeps the ledger, and down leaves nothing running.
func TestConsortium(t *testing.T) {
	n := nettest.Start(t)
	ctx := context.Background()

	pids := pidsOf(n.Status(ctx))
	if err := n.Up(ctx); err != nil {
		t.Fatalf("second up: %v", err)
	}
	if again := pidsOf(n.Status(ctx)); fmt.Sprint(again) != fmt.Sprint(pids) {
		t.Fatalf("second up restarted processes: %v -> %v", pids, again)
	}

	profile, err := n.Profile()
	if err != nil {
		t.Fatal(err)
	}
	conn, err := fabricclient.Dial(profile, "Commission")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	probe := conn.Contract("probe")

	t.Run("both orgs endorse, evaluate reads back", func(t *testing.T) {
		commit := submit(t, probe, "Put", "k1", "v1")
		if commit != peer.TxValidationCode_VALID {
			t.Fatalf("status %v, want VALID", commit)
		}
		got, err := probe.EvaluateTransaction("Get", "k1")
		if err != nil || string(got) != "v1" {
			t.Fatalf("Get k1 = %q, %v; want v1", got, err)
		}
	})

	t.Run("one org alone is refused", func(t *testing.T) {
		status := submit(t, probe, "Put", "k2", "only-commission", client.WithEndorsingOrganizations(network.Commission.MSPID))
		if status != peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE {
			t.Fatalf("status %v, want ENDORSEMENT_POLICY_FAILURE", status)
		}
		if _, err := probe.EvaluateTransaction("Get", "k2"); err == nil {
			t.Fatal("a transaction endorsed by one org changed the ledger")
		}
	})

	t.Run("survives losing one orderer", func(t *testing.T) {
		victim := raftLeader(t, n)
		if err := n.Kill(victim); err != nil {
			t.Fatal(err)
		}
		t.Logf("killed %s (the Raft leader)", victim)
		for i := 0; i < 5; i++ {
			key := fmt.Sprintf("after-kill-%d", i)
			if err := submitEventually(probe, key, "ok", 60*time.Second); err != nil {
				t.Fatalf("transaction %d after killing %s: %v", i, victim, err)
			}
		}
		if err := n.Up(ctx); err != nil { // restarts the killed orderer
			t.Fatalf("up after kill: %v", err)
		}
	})

	t.Run("deploy keeps the ledger", func(t *testing.T) {
		before := n.Status(ctx).Sequence
		// A different build of the same code is a new package.
		rebuilt := nettest.BuildChaincode(t, t.TempDir(), "-s")
		if err := os.Rename(rebuilt, chaincodePath(t, n)); err != nil {
			t.Fatal(err)
		}
		deployed, err := n.Deploy(ctx)
		if err != nil || !deployed {
			t.Fatalf("deploy = %v, %v", deployed, err)
		}
		if got := n.Status(ctx).Sequence; got != before+1 {
			t.Fatalf("sequence %d after deploy, want %d", got, before+1)
		}
		got, err := probe.EvaluateTransaction("Get", "k1")
		if err != nil || string(got) != "v1" {
			t.Fatalf("after deploy Get k1 = %q, %v; want v1", got, err)
		}
		if err := n.Probe(ctx); err != nil {
			t.Fatalf("probe on the new chaincode: %v", err)
		}
	})

	st := n.Status(ctx)
	if err := n.Down(false); err != nil {
		t.Fatal(err)
	}
	for _, p := range st.Processes {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", p.PID)); err == nil && processIs(p.PID, p.Name) {
			t.Errorf("%s (pid %d) still running after down", p.Name, p.PID)
		}
	}
	for _, np := range n.Ports().NetworkPorts() {
		if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", np.Port), 200*time.Millisecond); err == nil {
			c.Close()
			t.Errorf("port %d (%s %s) still listening after down", np.Port, np.Process, np.Role)
		}
	}
}

func pidsOf(st localnet.Status) map[string]int {
	out := map[string]int{}
	for _, p := range st.Processes {
		out[p.Name] = p.PID
	}
	return out
}

// processIs reports whether pid still runs a network binary (not a reused PID).
func processIs(pid int, name string) bool {
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || len(cmdline) == 0 {
		return false
	}
	exe := filepath.Base(strings.SplitN(string(cmdline), "\x00", 2)[0])
	return exe == "peer" || exe == "orderer" || exe == "ballotcc"
}

func chaincodePath(t *testing.T, n *localnet.Network) string {
	// The instance's chaincode binary sits next to its network folder (nettest.Config).
	return filepath.Join(filepath.Dir(n.Layout().Dir), "ballotcc")
}

// submit endorses, submits and waits for the commit status of one transaction.
func submit(t *testing.T, c *client.Contract, fn string, args ...any) peer.TxValidationCode {
	t.Helper()
	var opts []client.ProposalOption
	var strArgs []string
	for _, a := range args {
		switch v := a.(type) {
		case string:
			strArgs = append(strArgs, v)
		case client.ProposalOption:
			opts = append(opts, v)
		}
	}
	opts = append(opts, client.WithArguments(strArgs...))
	proposal, err := c.NewProposal(fn, opts...)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := proposal.Endorse()
	if err != nil {
		t.Fatalf("endorse %s: %v", fn, err)
	}
	commit, err := tx.Submit()
	if err != nil {
		t.Fatalf("submit %s: %v", fn, err)
	}
	status, err := commit.Status()
	if err != nil {
		t.Fatalf("commit status %s: %v", fn, err)
	}
	return status.Code
}

// submitEventually retries a probe Put until it commits or the time is up,
// as a client must when it loses the Raft leader: right after the kill a new
// leader is being elected, and a transaction the dying leader had accepted is
// never ordered, so each attempt's commit wait is bounded and a lost one is
// submitted again (the Put is idempotent).
func submitEventually(c *client.Contract, key, value string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := c.SubmitWithContext(ctx, "Put", client.WithArguments(key, value))
		cancel()
		if err == nil {
			return nil
		}
		var commitErr *client.CommitError
		if errors.As(err, &commitErr) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func raftLeader(t *testing.T, n *localnet.Network) string {
	t.Helper()
	for _, p := range n.Status(context.Background()).Processes {
		if p.Leader {
			return p.Name
		}
	}
	t.Fatal("no orderer reports itself Raft leader")
	return ""
}

// Package nettest starts a private instance of the Votechain test network for
// an integration test: its own run folder under the repository's git-ignored
// .run/test, its own port range, its own chaincode binary, all stopped and
// removed when the test ends.
package nettest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/votechain/votechain/internal/rundir"
	"github.com/votechain/votechain/internal/testport"
	"github.com/votechain/votechain/network"
	"github.com/votechain/votechain/test-network/localnet"
)

// RepoRoot is the folder holding the project's go.mod, found from the
// working directory (go test runs in the package folder).
func RepoRoot(t testing.TB) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root, _, err := rundir.FindModule(wd)
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// RunDir makes a fresh folder for one test under .run/test and removes it when
// the test passes (a failed test keeps it, with its logs, for inspection).
func RunDir(t testing.TB, name string) string {
	t.Helper()
	dir, err := os.MkdirTemp(filepath.Join(mkdirAll(t, filepath.Join(RepoRoot(t), ".run", "test"))), name+"-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("keeping %s for inspection", dir)
			return
		}
		os.RemoveAll(dir)
	})
	return dir
}

func mkdirAll(t testing.TB, dir string) string {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// BuildChaincode compiles cmd/ballotcc into dir and returns the binary path.
// Extra linker flags give a different binary (and so a new deploy).
func BuildChaincode(t testing.TB, dir string, ldflags string) string {
	t.Helper()
	build(t, "-ldflags", ldflags, "-o", filepath.Join(dir, "ballotcc"), "./cmd/ballotcc")
	return filepath.Join(dir, "ballotcc")
}

// BinEnv is the environment variable naming a folder of the project's
// commands built from this checkout: make test sets it to bin/, which it
// has just built. Commands then copies them from there instead of linking
// each anew (seconds apiece on 2 cores, and tests call it dozens of times).
const BinEnv = "VOTECHAIN_TEST_BIN"

// Commands puts the named commands (cmd/NAME), or all of them if none are
// named, into dir: copied from the folder $VOTECHAIN_TEST_BIN (BinEnv) if
// set, else compiled from the checkout. dir holds its own copies, so a
// rebuild of that folder after they are taken leaves the test's processes
// alone; the folder must hold this checkout's commands, built before the
// tests start (make test builds it first and builds nothing while they
// run).
func Commands(t testing.TB, dir string, names ...string) {
	t.Helper()
	from := os.Getenv(BinEnv)
	if from == "" {
		pkgs := []string{"./cmd/..."}
		if len(names) > 0 {
			pkgs = nil
			for _, name := range names {
				pkgs = append(pkgs, "./cmd/"+name)
			}
		}
		build(t, append([]string{"-o", dir + "/"}, pkgs...)...)
		return
	}
	if len(names) == 0 {
		names = commandNames(t)
	}
	mkdirAll(t, dir)
	for _, name := range names {
		err := copyExecutable(filepath.Join(from, name), filepath.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("%v: run `make build`, or unset %s to have the tests build the commands", err, BinEnv)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// commandNames lists the project's commands: the folders under cmd/.
func commandNames(t testing.TB) []string {
	entries, err := os.ReadDir(filepath.Join(RepoRoot(t), "cmd"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	return names
}

// copyExecutable copies the executable file src to dst (mode 0755),
// replacing dst whole (a new file renamed over it).
func copyExecutable(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+"-")
	if err != nil {
		return err
	}
	defer os.Remove(out.Name()) // fails once renamed
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", src, err)
	}
	if err := out.Chmod(0o755); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Rename(out.Name(), dst)
}

func build(t testing.TB, args ...string) {
	t.Helper()
	cmd := exec.Command("go", append([]string{"build"}, args...)...)
	cmd.Dir = RepoRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %v: %v\n%s", args, err, out)
	}
}

// PortBase reserves a port range no other test on this machine holds and
// whose network ports are all free (testport.Base, below the ephemeral
// ports); never the default base make up uses.
func PortBase(t testing.TB) int {
	t.Helper()
	return testport.Base(t, network.DefaultPortBase)
}

// Integration marks t as an integration test, one that starts a Fabric
// network: it is skipped under -short (make test-unit), so the fast lane needs
// no Fabric binaries. Config and Start call it; a test that brings up a
// network some other way calls it first.
func Integration(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip(shortSkip("starts a Fabric network"))
	}
}

// shortSkip is the reason an integration test gives for its skip under
// -short: what it does, then that -short skips it and how to run it.
func shortSkip(what string) string {
	return what + ": skipped under -short (run make test)"
}

// Config returns the configuration of a private network instance for t,
// checking the Fabric binaries exist (make test builds them). Under -short
// it skips t (see Integration).
func Config(t testing.TB) localnet.Config {
	t.Helper()
	Integration(t)
	root := RepoRoot(t)
	fabricBin := filepath.Join(root, "bin", "fabric")
	if _, err := os.Stat(filepath.Join(fabricBin, "peer")); err != nil {
		t.Fatalf("Fabric binaries missing in %s: run `make fabric-bin` (make test does it)", fabricBin)
	}
	dir := RunDir(t, "net")
	Commands(t, dir, "ballotcc")
	return localnet.Config{
		Dir:       filepath.Join(dir, "network"),
		PortBase:  PortBase(t),
		FabricBin: fabricBin,
		Chaincode: filepath.Join(dir, "ballotcc"),
		Builder:   filepath.Join(root, network.BuilderDir),
		Log:       slog.New(slog.NewTextHandler(testWriter{t}, nil)),
	}
}

// Start brings up a private network for t with the default consensus and
// tears it down (stopping every process by PID) when the test ends; under
// -short it skips t.
func Start(t testing.TB) *localnet.Network {
	t.Helper()
	return StartConsensus(t, "")
}

// StartConsensus is Start with the given consensus ("" for the default).
func StartConsensus(t testing.TB, consensus network.Consensus) *localnet.Network {
	t.Helper()
	cfg := Config(t)
	cfg.Consensus = consensus
	n, err := localnet.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Down(false); err != nil {
			t.Errorf("network down: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	began := time.Now()
	if err := n.Up(ctx); err != nil {
		t.Fatalf("network up: %v", err)
	}
	t.Logf("network up in %.1f s (port base %d, consensus %s)", time.Since(began).Seconds(), n.Ports().Base, n.Consensus())
	return n
}

// testWriter sends log output to the test log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p[:len(p)-1]))
	return len(p), nil
}

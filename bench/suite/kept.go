package suite

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/votechain/votechain/test-network/localnet"
)

// checkKept refuses a network kept in dir, inside the run folder, from an
// earlier run (--fresh=false, or after --keep) that was made with another
// --port-base than c's: the run's system's (offset 0, its network/) or an
// extra network an earlier run left (otherPortOffset, a ceiling-* folder).
// Opening it would fail with localnet's advice (leave --port-base out, or
// wipe the network alone with vcnet), which benchrun does not take: the
// refusal names the base to give, or the wipe benchrun does. A folder
// without a network, or one localnet cannot open, is left to the run's
// own opening of it, which says why.
func (c StackConfig) checkKept(dir string, offset int) error {
	n, err := localnet.New(localnet.Config{Dir: dir, FabricBin: c.FabricBin, Chaincode: filepath.Join(c.BinDir, "ballotcc"), Builder: c.builder()})
	if err != nil {
		return nil
	}
	if _, err := os.Stat(n.Layout().State()); err != nil {
		return nil // no network made there yet
	}
	if made := n.Ports().Base - offset; made != c.PortBase {
		return fmt.Errorf("this run folder, %s, was made with --port-base %d (%s records port base %d), not %d: drop --fresh=false to wipe it, or give --port-base %d",
			c.Dir, made, n.Layout().State(), n.Ports().Base, c.PortBase, made)
	}
	return nil
}

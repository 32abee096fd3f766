package localnet_test

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/votechain/votechain/internal/rundir/rundirtest"
	"github.com/votechain/votechain/test-network/localnet"
)

// TestStatusOfNetworkNotCreatedNamesItsUp: the status of a network not
// yet created says to bring up that folder's network, on its port base
// (vcnet --dir, --port-base), even run from the project; make network-up,
// which brings up .run/network, only for make's folder and ports.
func TestStatusOfNetworkNotCreatedNamesItsUp(t *testing.T) {
	project := rundirtest.Project(t)
	bench := filepath.Join(project, ".run", "bench", "network")
	for _, c := range []struct {
		st   localnet.Status
		want string
	}{
		{localnet.Status{Dir: bench, PortBase: 27000}, "not created: run `bin/vcnet --dir " + bench + " up`"},
		{localnet.Status{Dir: bench, PortBase: 31800}, "not created: run `bin/vcnet --dir " + bench + " --port-base 31800 up`"},
		{localnet.Status{Dir: localnet.DefaultDir, PortBase: 27000}, "not created: run `make network-up`"},
	} {
		var out bytes.Buffer
		c.st.Print(&out)
		if !strings.Contains(out.String(), c.want+"\n") {
			t.Errorf("status of %s (port base %d), not created:\n%s\nwant %q", c.st.Dir, c.st.PortBase, out.String(), c.want)
		}
	}
}

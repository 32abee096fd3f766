package localnet_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/votechain/votechain/test-network/nettest"
)

// TestPeerUUIDFormatPatched shows that the Fabric build carries
// network/fabricbin/patches/uuid-format.patch (docs/ledger.md): in the peer
// binary's machine code, read with go tool objdump, Fabric's
// common/util.idBytesToStr calls no fmt.Sprintf, as Fabric's own does.
// The strings it makes are the same (the patch's own test checks that).
func TestPeerUUIDFormatPatched(t *testing.T) {
	nettest.Integration(t)
	const fn = "github.com/hyperledger/fabric/common/util.idBytesToStr"
	peer := filepath.Join(nettest.RepoRoot(t), "bin", "fabric", "peer")
	out, err := exec.Command("go", "tool", "objdump", "-s", "^"+strings.ReplaceAll(fn, ".", `\.`)+"$", peer).CombinedOutput()
	if err != nil {
		t.Fatalf("go tool objdump %s: %v\n%s", peer, err, out)
	}
	text := string(out)
	if !strings.Contains(text, "TEXT "+fn+"(SB)") {
		t.Fatalf("%s has no function %s: objdump printed\n%s", peer, fn, text)
	}
	var calls int
	for line := range strings.SplitSeq(text, "\n") {
		if !strings.Contains(line, "CALL ") {
			continue
		}
		calls++
		if strings.Contains(line, "fmt.Sprintf") {
			t.Fatalf("%s calls fmt.Sprintf: bin/fabric was built without network/fabricbin/patches/uuid-format.patch (run make fabric-bin)\n%s", fn, line)
		}
	}
	if calls == 0 {
		t.Fatalf("no CALL instruction found in %s: cannot tell (objdump printed\n%s)", fn, text)
	}
}

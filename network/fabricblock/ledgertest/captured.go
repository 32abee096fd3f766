package ledgertest

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"google.golang.org/protobuf/proto"
)

// CapturedBlocks returns the blocks captured from a real Fabric network
// (3.1.1, SmartBFT over both organisations' orderers), in order from the
// genesis block: the ballot chaincode's approvals and commit, an election
// with contests set up (its roll root that of the empty roll) and batches
// committed; no roll is loaded or sealed. They are network/fabricblock's
// testdata/block-N.pb, written by the explorer's network test
// (EXPLORER_CAPTURE_BLOCKS).
func CapturedBlocks() ([]*common.Block, error) {
	_, self, _, ok := runtime.Caller(0)
	if !ok {
		return nil, fmt.Errorf("ledgertest: cannot locate the captured blocks")
	}
	dir := filepath.Join(filepath.Dir(self), "..", "testdata")
	var blocks []*common.Block
	for n := 0; ; n++ {
		data, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("block-%d.pb", n)))
		if os.IsNotExist(err) {
			break
		}
		if err != nil {
			return nil, err
		}
		var b common.Block
		if err := proto.Unmarshal(data, &b); err != nil {
			return nil, fmt.Errorf("ledgertest: captured block %d: %w", n, err)
		}
		blocks = append(blocks, &b)
	}
	if len(blocks) < 3 {
		return nil, fmt.Errorf("ledgertest: only %d captured blocks in %s", len(blocks), dir)
	}
	return blocks, nil
}

package suite

import (
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/votechain/votechain/bench/measure"
	"github.com/votechain/votechain/bench/report"
	"github.com/votechain/votechain/network"
)

// commitPaths splits the commit stage of the window [from, to) from the
// nodes' logs in dir (the network's logs folder: peer.ORG.log and
// ordererN.log, as network.Layout.Log names them), a CommitPath for each
// organisation's peer. Every orderer log in dir is read; a Raft orderer's
// gives no SmartBFT proposals, and the parts that need them stay empty. A
// peer's log that cannot be read is an error.
func commitPaths(dir string, from, to time.Time) ([]report.CommitPath, error) {
	files, err := filepath.Glob(filepath.Join(dir, "orderer*.log")) // network.OrdererProcess(i).log
	if err != nil {
		return nil, err
	}
	var orderers [][]measure.OrdererBlock
	for _, f := range files {
		blocks, err := parseLogFile(f, func(r io.Reader) ([]measure.OrdererBlock, error) {
			return measure.OrdererBlocks(r, network.ChannelName)
		})
		if err != nil {
			return nil, err
		}
		orderers = append(orderers, blocks)
	}
	var out []report.CommitPath
	for _, org := range network.PeerOrgs() {
		peer := network.PeerProcess(org)
		l, err := parseLogFile(filepath.Join(dir, peer+".log"), func(r io.Reader) (measure.PeerLog, error) {
			return measure.ParsePeerLog(r, network.ChannelName)
		})
		if err != nil {
			return nil, err
		}
		paths := measure.BlockPaths(l.Blocks, orderers...)
		out = append(out, report.CommitPath{
			Peer:   peer,
			Blocks: measure.SummarizeBlockPaths(paths, from, to),
			Waits:  measure.SummarizeTxWaits(measure.TxWaits(l.Waits, paths), "", from, to),
		})
	}
	return out, nil
}

// parseLogFile opens file and parses it with parse.
func parseLogFile[T any](file string, parse func(io.Reader) (T, error)) (T, error) {
	f, err := os.Open(file)
	if err != nil {
		var zero T
		return zero, err
	}
	defer f.Close()
	return parse(f)
}

// Command ballotcc runs the Votechain chaincode as a chaincode service (CCaaS):
// the peers connect to it at the address in the installed package's
// connection.json. The test network starts one per organisation. It logs
// whether its peer lets it batch ledger access (chaincode.runtimeParams).
//
// Environment:
//
//	CHAINCODE_ID              package id the peers know it by (label:sha256); required
//	CHAINCODE_SERVER_ADDRESS  listen address, e.g. 127.0.0.1:27300; required
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"

	"github.com/votechain/votechain/chaincode"
	"github.com/votechain/votechain/internal/cli"
)

func main() { cli.Main("ballotcc", run) }

func run(ctx context.Context) error {
	ccid, addr := os.Getenv("CHAINCODE_ID"), os.Getenv("CHAINCODE_SERVER_ADDRESS")
	if ccid == "" || addr == "" {
		return cli.Usagef("CHAINCODE_ID and CHAINCODE_SERVER_ADDRESS must be set (the test network sets both)")
	}
	link := new(chaincode.PeerLink)
	cc, err := chaincode.NewChaincode(chaincode.NewBallotContract(), chaincode.NewProbeContract(link))
	if err != nil {
		return fmt.Errorf("build chaincode: %w", err)
	}
	cc.Info.Title = "votechain"
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	slog.Info("chaincode server listening", "address", addr, "ccid", ccid)
	return chaincode.Serve(ctx, lis, ccid, cc, link, slog.Default())
}

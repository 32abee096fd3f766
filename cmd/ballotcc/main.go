// Command ballotcc runs the Votechain chaincode as a chaincode service (CCaaS):
// the peers connect to it at the address in the installed package's
// connection.json. The test network starts one per organisation. It logs
// whether its peer lets it batch ledger access (chaincode.runtimeParams).
// Its environment is in its usage text (ballotcc --help).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"

	"github.com/votechain/votechain/chaincode"
	"github.com/votechain/votechain/internal/cli"
)

const usage = `Usage: ballotcc

ballotcc runs the Votechain chaincode as a chaincode service: the peers
connect to it at the address in the installed package's connection.json.
It takes no flags; the test network (make up, vcnet) starts one per
organisation with its environment:

  CHAINCODE_ID              package id the peers know it by (label:sha256); required
  CHAINCODE_SERVER_ADDRESS  listen address, host:port, e.g. 127.0.0.1:27120; required

It logs on stderr, at info level, in slog's text form (key=value).
`

func main() {
	cli.Main("ballotcc", func(ctx context.Context) error { return run(ctx, os.Args[1:], os.Stdout, os.Stderr) })
}

// run serves the chaincode until ctx ends, printing its usage on stdout and
// logging on stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		if slices.Contains([]string{"-h", "-help", "--help"}, args[0]) {
			fmt.Fprint(stdout, usage)
			return flag.ErrHelp
		}
		return cli.Usagef("ballotcc takes no arguments, got %q: it is configured by CHAINCODE_ID and CHAINCODE_SERVER_ADDRESS (ballotcc --help)", args)
	}
	ccid, addr := os.Getenv("CHAINCODE_ID"), os.Getenv("CHAINCODE_SERVER_ADDRESS")
	if ccid == "" || addr == "" {
		return cli.Usagef("CHAINCODE_ID and CHAINCODE_SERVER_ADDRESS must be set (the test network sets both; ballotcc --help)")
	}
	if err := cli.CheckAddr("$CHAINCODE_SERVER_ADDRESS", addr); err != nil {
		return err
	}
	link := new(chaincode.PeerLink)
	cc, err := chaincode.NewChaincode(chaincode.NewBallotContract(), chaincode.NewProbeContract(link))
	if err != nil {
		return fmt.Errorf("build chaincode: %w", err)
	}
	cc.Info.Title = "votechain"
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("$CHAINCODE_SERVER_ADDRESS: %w", err)
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	log.Info("chaincode server listening", "address", addr, "ccid", ccid)
	return chaincode.Serve(ctx, lis, ccid, cc, link, log)
}

package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"strings"
	"testing"

	"github.com/votechain/votechain/internal/cli"
)

// TestHelpAndArguments: --help prints the environment it needs (exit 0);
// an argument is a usage error pointing at it, as is a missing variable.
func TestHelpAndArguments(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"--help"}, &out); !errors.Is(err, flag.ErrHelp) || !strings.Contains(out.String(), "CHAINCODE_SERVER_ADDRESS") {
		t.Errorf("--help: %v, printed %q", err, out.String())
	}
	if err := run(context.Background(), []string{"serve"}, &out); !errors.Is(err, cli.ErrUsage) || !strings.Contains(err.Error(), "ballotcc --help") {
		t.Errorf("an argument: %v; want a usage error naming --help", err)
	}
	t.Setenv("CHAINCODE_ID", "")
	if err := run(context.Background(), nil, &out); !errors.Is(err, cli.ErrUsage) || !strings.Contains(err.Error(), "CHAINCODE_ID") {
		t.Errorf("no environment: %v; want a usage error naming it", err)
	}
}

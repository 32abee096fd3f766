package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/votechain/votechain/internal/cli"
)

// TestHelpAndArguments: --help prints the environment it needs (exit 0);
// an argument is a usage error pointing at it, as is a missing variable.
func TestHelpAndArguments(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"--help"}, &out, io.Discard); !errors.Is(err, flag.ErrHelp) || !strings.Contains(out.String(), "CHAINCODE_SERVER_ADDRESS") {
		t.Errorf("--help: %v, printed %q", err, out.String())
	}
	if err := run(context.Background(), []string{"serve"}, &out, io.Discard); !errors.Is(err, cli.ErrUsage) || !strings.Contains(err.Error(), "ballotcc --help") {
		t.Errorf("an argument: %v; want a usage error naming --help", err)
	}
	t.Setenv("CHAINCODE_ID", "")
	if err := run(context.Background(), nil, &out, io.Discard); !errors.Is(err, cli.ErrUsage) || !strings.Contains(err.Error(), "CHAINCODE_ID") {
		t.Errorf("no environment: %v; want a usage error naming it", err)
	}
}

// TestServerAddressChecked: a CHAINCODE_SERVER_ADDRESS without a port
// number is a usage error naming the variable, told before the chaincode
// is built or anything listens; one taken but not free to listen on is an
// error (exit 1) naming it too.
func TestServerAddressChecked(t *testing.T) {
	t.Setenv("CHAINCODE_ID", "ballot:0123")
	for addr, says := range map[string]string{
		"localhost": `$CHAINCODE_SERVER_ADDRESS "localhost": want host:port`,
		":99999":    `$CHAINCODE_SERVER_ADDRESS ":99999": port "99999": want a number from 0 to 65535`,
	} {
		t.Setenv("CHAINCODE_SERVER_ADDRESS", addr)
		if err := run(context.Background(), nil, io.Discard, io.Discard); !errors.Is(err, cli.ErrUsage) || !strings.Contains(err.Error(), says) {
			t.Errorf("CHAINCODE_SERVER_ADDRESS=%s: %v; want a usage error saying %s", addr, err, says)
		}
	}
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	t.Setenv("CHAINCODE_SERVER_ADDRESS", taken.Addr().String())
	if err := run(context.Background(), nil, io.Discard, io.Discard); err == nil || errors.Is(err, cli.ErrUsage) || !strings.HasPrefix(err.Error(), "$CHAINCODE_SERVER_ADDRESS: listen tcp") {
		t.Errorf("CHAINCODE_SERVER_ADDRESS=%s, taken: %v; want an error naming the variable", taken.Addr(), err)
	}
}

// TestLogsOnStderr: the server's log lines go to the stderr run is given,
// in slog's text form, not to slog's default logger; a run whose context
// has ended stops serving at once, without an error.
func TestLogsOnStderr(t *testing.T) {
	t.Setenv("CHAINCODE_ID", "ballot:0123")
	t.Setenv("CHAINCODE_SERVER_ADDRESS", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var stderr bytes.Buffer
	if err := run(ctx, nil, io.Discard, &stderr); err != nil {
		t.Fatal(err)
	}
	if want := `level=INFO msg="chaincode server listening" address=127.0.0.1:0 ccid=ballot:0123`; !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr %q; want a line with %q", stderr.String(), want)
	}
}

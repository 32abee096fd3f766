// Package gateway holds what the gateway's commands share: configuration
// from flags and environment, the election secret, logging, and development
// stand-ins for the ledger. The API is in httpapi, the intake in dedup, the
// Redis layout in votequeue, the voter roll in roll.
package gateway

import (
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/votechain/votechain/internal/cli"
)

// SecretEnv is the environment variable that may hold the election secret
// (hex) when no secret file is given. Never pass the secret as a flag: the
// command line is visible to every user of the machine.
const SecretEnv = "VOTECHAIN_ELECTION_SECRET"

// minSecret is the shortest secret accepted: 128 bits.
const minSecret = 16

// LoadSecret reads the election secret: the file's contents (hex, surrounding
// space ignored) if file is set, else the SecretEnv variable (hex).
func LoadSecret(file string) ([]byte, error) {
	text, from := os.Getenv(SecretEnv), "$"+SecretEnv
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("election secret: %w", err)
		}
		text, from = string(b), file
	}
	text = strings.TrimSpace(text)
	if text == "" {
		return nil, fmt.Errorf("election secret: none given (set --secret-file or $%s)", SecretEnv)
	}
	secret, err := hex.DecodeString(text)
	if err != nil {
		return nil, fmt.Errorf("election secret in %s is not hex: %w", from, err)
	}
	if len(secret) < minSecret {
		return nil, fmt.Errorf("election secret in %s has %d bytes; want at least %d", from, len(secret), minSecret)
	}
	return secret, nil
}

// Usage returns a usage function for a gateway-side command: its flags,
// their environment variables, and where the election secret comes from.
func Usage(fs *flag.FlagSet, prefix, synopsis string) func() {
	return cli.Usage(fs, prefix, synopsis, "The election secret (hex) is read from --secret-file or $"+SecretEnv+".")
}

// NewLogger returns a JSON slog logger at level ("debug", "info", "warn",
// "error").
func NewLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: %w", level, err)
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l})), nil
}

// RedisLogger adapts slog to go-redis's internal logger (redis.SetLogger),
// so the client's own messages are structured too.
type RedisLogger struct{ Log *slog.Logger }

// Printf logs one go-redis message at warn level.
func (r RedisLogger) Printf(ctx context.Context, format string, v ...any) {
	r.Log.WarnContext(ctx, "redis client", "msg", fmt.Sprintf(format, v...))
}

// NoLedger is a stand-in for the ledger's nullifier lookup where none is
// needed (tools and tests): it reports every nullifier unused, so a Bloom
// "maybe seen" is settled by Redis's voted set alone. Never use it to serve
// an election: after a Redis data loss and a roll reload, a voter whose vote
// was committed could vote again (the chaincode would still refuse to count
// it).
type NoLedger struct{}

// NullifierUsed always answers false.
func (NoLedger) NullifierUsed(context.Context, string, string) (bool, error) { return false, nil }

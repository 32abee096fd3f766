// Package clitest helps tests of commands: what the variables of an
// environment do to the commands that read them (cli.CheckEnv), and an
// address of a system that is not running.
package clitest

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/votechain/votechain/internal/cli"
)

// CheckEnv sets env for the rest of t, checks it against readers
// (cli.CheckEnv), and fails t unless the overrides and the unread
// variables are overrides and unread, in that order.
func CheckEnv(t testing.TB, readers []cli.EnvReader, env map[string]string, overrides, unread []string) {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	c, err := cli.CheckEnv(context.Background(), readers)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []struct {
		what      string
		got, want []string
	}{{"overrides", c.Overrides, overrides}, {"unread", c.Unread, unread}} {
		if got, want := strings.Join(l.got, "\n"), strings.Join(l.want, "\n"); got != want {
			t.Errorf("%s:\n%s\nwant:\n%s", l.what, got, want)
		}
	}
}

// FreeAddr is a 127.0.0.1 address whose port was free a moment ago (the
// kernel's choice): nothing listens there, as for a system not running.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Package clitest checks, for tests, what the variables of an environment
// do to the commands that read them (cli.CheckEnv).
package clitest

import (
	"context"
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

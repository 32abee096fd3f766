package cli

import (
	"bytes"
	"flag"
	"strings"
	"testing"
)

func TestFlagsWinOverEnvironmentOverDefaults(t *testing.T) {
	t.Setenv("TOOL_REDIS_ADDR", "10.0.0.1:1")
	t.Setenv("TOOL_PORT_BASE", "31000")
	fs := flag.NewFlagSet("tool", flag.ContinueOnError)
	addr := fs.String("redis-addr", "127.0.0.1:6379", "")
	base := fs.Int("port-base", 27000, "")
	wipe := fs.Bool("wipe", false, "")
	name := fs.String("name", "def", "")
	cmd, rest, err := Parse(fs, "TOOL", []string{"-port-base", "1", "down", "--wipe", "extra"})
	if err != nil {
		t.Fatal(err)
	}
	if cmd != "down" || len(rest) != 1 || rest[0] != "extra" {
		t.Fatalf("command %q rest %v", cmd, rest)
	}
	if *base != 1 || *addr != "10.0.0.1:1" || !*wipe || *name != "def" {
		t.Fatalf("base %d addr %s wipe %v name %s", *base, *addr, *wipe, *name)
	}
}

func TestBadEnvironmentValueIsNamed(t *testing.T) {
	t.Setenv("TOOL_PORT_BASE", "lots")
	fs := flag.NewFlagSet("tool", flag.ContinueOnError)
	fs.Int("port-base", 27000, "")
	if _, _, err := Parse(fs, "TOOL", nil); err == nil || !strings.Contains(err.Error(), "$TOOL_PORT_BASE") {
		t.Fatalf("error %v; want it to name the variable", err)
	}
}

func TestUsageExplainsTheEnvironment(t *testing.T) {
	fs := flag.NewFlagSet("tool", flag.ContinueOnError)
	var out bytes.Buffer
	fs.SetOutput(&out)
	fs.String("listen", ":80", "listen address")
	Usage(fs, "TOOL", "tool does things.", "More text.")()
	for _, want := range []string{"tool does things.", "TOOL_LISTEN", "-listen", "More text."} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("usage lacks %q:\n%s", want, out.String())
		}
	}
}

package scripts

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestInstallDepsRuntimeLeavesOutTheBrowser runs install-deps.sh on a PATH
// of stand-ins holding the runtime set's commands but no browser, as root
// (id -u says 0), with an apt-get that notes what it is asked and installs
// the browser's commands: --runtime (make deps-run, what make up runs)
// installs nothing (it installed chromium, which only the browser tests
// use), and no argument (make deps, what make test runs) installs
// chromium alone (not chromium-driver: nothing runs chromedriver).
func TestInstallDepsRuntimeLeavesOutTheBrowser(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string // apt-get's install line, "" for none
	}{
		{[]string{"--runtime"}, ""},
		{nil, "install -y -qq --no-install-recommends chromium"},
	} {
		bin, asked := t.TempDir(), filepath.Join(t.TempDir(), "apt-get.log")
		stub := func(name, body string) {
			t.Helper()
			if err := os.WriteFile(filepath.Join(bin, name), []byte("#!"+bash+"\n"+body+"\n"), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		for _, name := range []string{"redis-server", "prometheus", "promtool", "prometheus-redis-exporter", "patch", "haproxy"} {
			stub(name, "")
		}
		stub("id", "echo 0")
		stub("apt-get", `[[ $1 == install ]] && echo "$*" >> `+asked+`
for p; do case $p in chromium) echo >`+bin+`/chromium;; esac; done
chmod +x `+bin+`/* 2>/dev/null; exit 0`)
		cmd := exec.Command(bash, append([]string{"install-deps.sh"}, c.args...)...)
		cmd.Env = []string{"PATH=" + bin}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("install-deps.sh %v: %v\n%s", c.args, err, out)
		}
		got, _ := os.ReadFile(asked)
		if strings.TrimSpace(string(got)) != c.want {
			t.Errorf("install-deps.sh %v asked apt-get %q; want %q", c.args, got, c.want)
		}
	}
}

// TestStopTargetsNeedOnlyTheirCommand: make down, status, network-down and
// network-status build the one command they need, never the whole build
// (they depended on build, so a broken build or a long compile kept the
// system from stopping), each once, whether it exists or not (an existing
// one was run as it was, stale after a pull), offline (GOPROXY=off: a
// module to download fails the build at once, and the fallback runs), then
// run it. Run as make -n in a folder where bin/vcnet exists and
// bin/votechain does not; the builds are compared up to their fallback
// (" || ...").
func TestStopTargetsNeedOnlyTheirCommand(t *testing.T) {
	got := dryRun(t, nil, "down", "status", "network-down", "network-status")
	for i, line := range got {
		got[i], _, _ = strings.Cut(line, " ||")
	}
	want := []string{"GOPROXY=off go build -o bin/votechain ./cmd/votechain", "bin/votechain down", "bin/votechain status",
		"GOPROXY=off go build -o bin/vcnet ./cmd/vcnet", "bin/vcnet down", "bin/vcnet status"}
	if !slices.Equal(got, want) {
		t.Errorf("make -n down status network-down network-status runs:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestStopTargetsRebuildTheirCommand runs make down status for real, with
// a GO that notes its arguments and exits with a given status and a
// bin/votechain that notes its own: with bin/votechain there, a build that
// succeeds is asked for once (none was: the binary was run as it was, stale
// after a pull), then down and status run; a build that fails warns and
// runs the existing binary (a broken build never keeps the system from
// stopping); with no bin/votechain, a build that fails fails make and
// runs nothing. Only the fallback warns (make runs silent, -s: the recipe
// it echoes holds the warning's text). go is asked offline (GOPROXY=off).
func TestStopTargetsRebuildTheirCommand(t *testing.T) {
	const (
		build   = "GOPROXY=off build -o bin/votechain ./cmd/votechain"
		warning = "make: building bin/votechain failed; running the bin/votechain built before"
	)
	for _, c := range []struct {
		why      string
		goExit   int
		binary   bool
		wantErr  bool
		wantRan  string // bin/votechain's noted runs
		wantWarn bool   // the fallback's warning in make's output
	}{
		{"an existing binary, the build succeeding", 0, true, false, "down\nstatus", false},
		{"an existing binary, the build failing", 1, true, false, "down\nstatus", true},
		{"no binary, the build failing", 1, false, true, "", false},
	} {
		dir, notes := t.TempDir(), t.TempDir()
		stub := func(path, body string) {
			t.Helper()
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte("#!/bin/bash\n"+body+"\n"), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		goStub := filepath.Join(notes, "go")
		stub(goStub, fmt.Sprintf(`echo "GOPROXY=$GOPROXY $*" >> %s/go.log; exit %d`, notes, c.goExit))
		if c.binary {
			stub(filepath.Join(dir, "bin", "votechain"), fmt.Sprintf(`echo "$*" >> %s/votechain.log`, notes))
		}
		out, err := runMake(t, dir, nil, "-s", "GO="+goStub, "down", "status")
		if (err != nil) != c.wantErr {
			t.Errorf("%s: make down status: %v; want failure %v\n%s", c.why, err, c.wantErr, out)
		}
		note := func(name string) string {
			data, _ := os.ReadFile(filepath.Join(notes, name))
			return strings.TrimSpace(string(data))
		}
		if got := note("go.log"); got != build {
			t.Errorf("%s: make down status asked go for %q; want %q once", c.why, got, build)
		}
		if got := note("votechain.log"); got != c.wantRan {
			t.Errorf("%s: make down status ran bin/votechain with %q; want %q", c.why, got, c.wantRan)
		}
		if strings.Contains(string(out), warning) != c.wantWarn {
			t.Errorf("%s: make's output holds the fallback's warning %q: %v; want %v:\n%s", c.why, warning, !c.wantWarn, c.wantWarn, out)
		}
	}
}

// TestStopTargetsBuildAfterTheWholeBuild: make -j build down runs
// bin/votechain's build after the whole build, never beside it (two go
// builds writing bin/votechain at once); the go stub notes when each
// build starts and ends, and takes 0.3 s. And every goal that needs build
// is in the Makefile's BUILDING_ALL, which orders them.
func TestStopTargetsBuildAfterTheWholeBuild(t *testing.T) {
	dir, notes := t.TempDir(), t.TempDir()
	goStub := filepath.Join(notes, "go")
	log := filepath.Join(notes, "go.log")
	script := fmt.Sprintf("#!/bin/bash\necho \"start $*\" >> %[1]s; sleep 0.3; echo \"end $*\" >> %[1]s\n", log)
	if err := os.WriteFile(goStub, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bin", "votechain"), []byte("#!/bin/bash\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := runMake(t, dir, nil, "-s", "-j4", "GO="+goStub, "build", "down"); err != nil {
		t.Fatalf("make -j4 build down: %v\n%s", err, out)
	}
	got, _ := os.ReadFile(log)
	want := "start build -o bin/ ./cmd/...\nend build -o bin/ ./cmd/...\n" +
		"start build -o bin/votechain ./cmd/votechain\nend build -o bin/votechain ./cmd/votechain\n"
	if string(got) != want {
		t.Errorf("make -j4 build down ran go:\n%swant:\n%s", got, want)
	}

	makefile, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	_, list, _ := strings.Cut(string(makefile), "\nBUILDING_ALL := $(filter ")
	list, _, _ = strings.Cut(list, ",")
	building := strings.Fields(list)
	for _, line := range strings.Split(string(makefile), "\n") {
		target, rest, ok := strings.Cut(line, ":")
		if !ok || target == "" || strings.ContainsAny(target, " \t$#=.") || strings.HasPrefix(rest, "=") {
			continue
		}
		prereqs, _, _ := strings.Cut(rest, "##")
		if slices.Contains(strings.Fields(prereqs), "build") && !slices.Contains(building, target) {
			t.Errorf("make %s needs build but is not in BUILDING_ALL (%v)", target, building)
		}
	}
	if !slices.Contains(building, "build") {
		t.Errorf("BUILDING_ALL (%v) lacks build", building)
	}
}

// TestWipeAndForceActOnlyWhenOne: make down and network-down pass --wipe
// and --force for WIPE=1 and FORCE=1 alone; WIPE=0, FORCE=0 or any other
// value, on the command line or exported (make reads the environment as
// variables), passes neither (any non-empty value did).
func TestWipeAndForceActOnlyWhenOne(t *testing.T) {
	for _, c := range []struct {
		vars []string
		env  []string
		want []string
	}{
		{[]string{"WIPE=1", "FORCE=1"}, nil, []string{"bin/votechain down --wipe", "bin/vcnet down --wipe --force"}},
		{[]string{"WIPE=0", "FORCE=0"}, nil, []string{"bin/votechain down", "bin/vcnet down"}},
		{nil, []string{"WIPE=yes", "FORCE=true"}, []string{"bin/votechain down", "bin/vcnet down"}},
		{nil, []string{"WIPE=1", "FORCE=1"}, []string{"bin/votechain down --wipe", "bin/vcnet down --wipe --force"}},
	} {
		got := dryRun(t, c.env, append(c.vars, "down", "network-down")...)
		got = slices.DeleteFunc(got, func(line string) bool { return strings.HasPrefix(line, "GOPROXY=off go build") })
		if !slices.Equal(got, c.want) {
			t.Errorf("make -n %v down network-down with %v exported runs:\n%s\nwant:\n%s", c.vars, c.env, strings.Join(got, "\n"), strings.Join(c.want, "\n"))
		}
	}
}

// dryRun runs make -n args (GO=go) with runMake in a new folder holding
// bin/vcnet (not bin/votechain). It returns the commands make prints, one
// a line, with their spaces collapsed.
func dryRun(t *testing.T, env []string, args ...string) []string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bin", "vcnet"), nil, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := runMake(t, dir, env, append([]string{"-n", "GO=go"}, args...)...)
	if err != nil {
		t.Fatalf("make -n %v: %v\n%s", args, err, out)
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		got = append(got, strings.Join(strings.Fields(line), " "))
	}
	return got
}

// runMake runs make args on the project's Makefile in the folder dir, in
// this process's environment cleared of what changes make's output or the
// targets, then given env: a calling make's MAKELEVEL, MAKEFLAGS and
// MFLAGS (under make test, make adds "Entering directory" lines), WIPE and
// FORCE. It returns make's output, standard error included.
func runMake(t *testing.T, dir string, env []string, args ...string) ([]byte, error) {
	t.Helper()
	makefile, err := filepath.Abs("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("make", append([]string{"--no-print-directory", "-f", makefile}, args...)...)
	cmd.Dir = dir
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool {
		name, _, _ := strings.Cut(kv, "=")
		return slices.Contains([]string{"MAKELEVEL", "MAKEFLAGS", "MFLAGS", "WIPE", "FORCE"}, name)
	})
	cmd.Env = append(cmd.Env, env...)
	return cmd.CombinedOutput()
}

package network

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fabricBinCopy copies fabricbin/build.sh and the inputs it digests (go.mod,
// go.sum, the patches) into a temporary folder, so the tests can change them.
func fabricBinCopy(t *testing.T) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "fabricbin")
	err := filepath.WalkDir("fabricbin", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("fabricbin", path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, info.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// buildScript runs dir/build.sh with args and GO set to a stand-in that
// records its arguments in the returned go.log and fails, so that a build
// the script starts stops at its first go command.
type buildScript struct {
	dir, goLog string
	t          *testing.T
}

func newBuildScript(t *testing.T, dir string) buildScript {
	goLog := filepath.Join(t.TempDir(), "go.log")
	fakeGo := filepath.Join(filepath.Dir(goLog), "go")
	if err := os.WriteFile(fakeGo, []byte("#!/bin/sh\necho \"$@\" >>"+goLog+"\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return buildScript{dir: dir, goLog: goLog, t: t}
}

func (b buildScript) run(args ...string) (stdout, stderr string, err error) {
	b.t.Helper()
	cmd := exec.Command("bash", append([]string{filepath.Join(b.dir, "build.sh")}, args...)...)
	cmd.Env = append(os.Environ(), "GO="+filepath.Join(filepath.Dir(b.goLog), "go"))
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

func (b buildScript) digest() string {
	b.t.Helper()
	out, stderr, err := b.run("--digest")
	if err != nil || out == "" {
		b.t.Fatalf("build.sh --digest: %v %q\n%s", err, out, stderr)
	}
	return out
}

// ranGo reports whether the script has called go since the last call.
func (b buildScript) ranGo() bool {
	b.t.Helper()
	_, err := os.Stat(b.goLog)
	if errors.Is(err, fs.ErrNotExist) {
		return false
	}
	if err := os.Remove(b.goLog); err != nil {
		b.t.Fatal(err)
	}
	return true
}

// setMtimes gives every file and folder under dir the time at.
func setMtimes(t *testing.T, dir string, at time.Time) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Chtimes(path, at, at)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestFabricBinDigestFollowsContentNotMtimes checks build.sh --digest, the
// stamp make fabric-bin compares: new mtimes or another folder leave it as it
// is; a changed patch (Fabric's or SmartBFT's), go.sum or a new patch change it.
func TestFabricBinDigestFollowsContentNotMtimes(t *testing.T) {
	t.Parallel()
	src := fabricBinCopy(t)
	b := newBuildScript(t, src)
	base := b.digest()
	for _, want := range []string{"  build.sh\n", "  go.mod\n", "  go.sum\n", "  patches/leveldb-options.patch\n", "  patches/SmartBFT/wal-buffer.patch\n"} {
		if !strings.Contains(base, want) {
			t.Errorf("the digest does not list%s:\n%s", strings.TrimSuffix(want, "\n"), base)
		}
	}

	setMtimes(t, src, time.Now().Add(time.Hour))
	if got := b.digest(); got != base {
		t.Errorf("new mtimes changed the digest:\n%s\nthen\n%s", base, got)
	}
	elsewhere := newBuildScript(t, fabricBinCopy(t))
	if got := elsewhere.digest(); got != base {
		t.Errorf("another copy of the same files has another digest:\n%s\nthen\n%s", base, got)
	}

	for _, p := range []string{"patches/leveldb-options.patch", "patches/SmartBFT/wal-buffer.patch", "go.sum"} {
		path := filepath.Join(src, p)
		old, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append(bytes.Clone(old), '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := b.digest(); got == base {
			t.Errorf("changing %s left the digest as it was", p)
		}
		if err := os.WriteFile(path, old, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got := b.digest(); got != base {
		t.Errorf("the files restored, the digest differs:\n%s\nthen\n%s", base, got)
	}
	added := filepath.Join(src, "patches", "SmartBFT", "added.patch")
	if err := os.WriteFile(added, []byte("--- a/x\n+++ b/x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := b.digest(); !strings.Contains(got, "  patches/SmartBFT/added.patch\n") {
		t.Errorf("a new patch is not in the digest:\n%s", got)
	}
}

// TestFabricBinIfChangedBuildsOnlyWhenTheContentChanged drives build.sh
// --if-changed (make fabric-bin) over a folder of stand-in binaries: it must
// adopt a stamp from before digests when the old mtime rule would, then
// build only when an input's content changes or a binary is missing, never
// for new mtimes, and never through a symlink.
func TestFabricBinIfChangedBuildsOnlyWhenTheContentChanged(t *testing.T) {
	t.Parallel()
	src := fabricBinCopy(t)
	b := newBuildScript(t, src)
	root := t.TempDir()
	out := filepath.Join(root, "fabric")
	cmds := []string{"peer", "orderer"}
	for _, f := range []string{"peer", "orderer", "config/core.yaml", "config/orderer.yaml", ".src/fabric/go.mod"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(out, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(out, f), []byte("stand-in"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	stamp := filepath.Join(out, ".built")
	now := time.Now()
	setMtimes(t, src, now.Add(-time.Hour))
	ifChanged := func(dir string) (string, string, error) {
		return b.run(append([]string{"--if-changed", dir}, cmds...)...)
	}
	mustBuild := func(why, dir, wantReason string) {
		t.Helper()
		stdout, stderr, err := ifChanged(dir)
		if err == nil || !strings.Contains(stdout, "fabricbin: building Fabric") || !strings.Contains(stdout, wantReason) {
			t.Errorf("%s: want a build saying %q (which the stand-in go fails), got %v\n%s%s", why, wantReason, err, stdout, stderr)
		}
		if _, err := os.Stat(stamp); err == nil {
			t.Errorf("%s: the stamp is still there after a failed build", why)
		}
		b.ranGo()
	}
	mustNotBuild := func(why, dir string) {
		t.Helper()
		stdout, stderr, err := ifChanged(dir)
		if err != nil || stdout != "" || b.ranGo() {
			t.Errorf("%s: want no build and no output, got %v\n%s%s", why, err, stdout, stderr)
		}
	}
	legacyStamp := func(at time.Time) {
		t.Helper()
		if err := os.WriteFile(stamp, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(stamp, at, at); err != nil {
			t.Fatal(err)
		}
	}

	mustBuild("no stamp", out, ".built is missing")

	legacyStamp(now.Add(-2 * time.Hour))
	mustBuild("an empty stamp older than the patches", out, "holds no digest and is older than")

	legacyStamp(now)
	stdout, stderr, err := ifChanged(out)
	if err != nil || b.ranGo() || !strings.Contains(stderr, "adopted the binaries") {
		t.Fatalf("an empty stamp newer than the inputs: want it adopted, got %v\n%s%s", err, stdout, stderr)
	}
	if s, _ := os.ReadFile(stamp); !strings.HasSuffix(string(s), b.digest()) {
		t.Fatalf("the adopted stamp does not hold the digest:\n%s", s)
	}
	mustNotBuild("up to date", out)

	setMtimes(t, src, now.Add(time.Hour))
	mustNotBuild("inputs with new mtimes, same content", out)

	link := filepath.Join(t.TempDir(), "fabric-link")
	if err := os.Symlink(out, link); err != nil {
		t.Fatal(err)
	}
	mustNotBuild("up to date through a symlink", link)

	patch := filepath.Join(src, "patches", "uuid-format.patch")
	old, err := os.ReadFile(patch)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(patch, append(bytes.Clone(old), '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, err = ifChanged(link)
	if err == nil || b.ranGo() || !strings.Contains(stderr, "is a symlink") || !strings.Contains(stderr, "patches/uuid-format.patch") {
		t.Errorf("a changed patch through a symlink: want a refusal naming the patch and no build, got %v\n%s%s", err, stdout, stderr)
	}
	if _, err := os.Stat(stamp); err != nil {
		t.Errorf("the refusal touched the stamp behind the link: %v", err)
	}
	mustBuild("a changed patch", out, "changed since its last build: patches/uuid-format.patch")

	if err := os.WriteFile(patch, old, 0o644); err != nil {
		t.Fatal(err)
	}
	legacyStamp(now.Add(2 * time.Hour))
	if _, _, err := ifChanged(out); err != nil || b.ranGo() {
		t.Fatalf("adopting again: %v", err)
	}
	if err := os.Remove(filepath.Join(out, "orderer")); err != nil {
		t.Fatal(err)
	}
	mustBuild("a binary missing", out, "orderer is missing")
}

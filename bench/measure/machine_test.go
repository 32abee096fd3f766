package measure

import (
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
)

func TestDescribeReadsThisMachine(t *testing.T) {
	m := Describe()
	if m.CPUs != runtime.NumCPU() || m.CPUs < 1 {
		t.Fatalf("cpus %d, runtime says %d", m.CPUs, runtime.NumCPU())
	}
	if runtime.GOOS == "linux" && (m.MemoryGB <= 0 || m.Kernel == "" || m.LoadStart == "?") {
		t.Fatalf("machine not read from /proc: %+v", m)
	}
	if (Machine{CPUs: 1}).Cores() != "1 core" || (Machine{CPUs: 8}).Cores() != "8 cores" {
		t.Fatal("Cores wording")
	}
}

func TestParseHugePageMode(t *testing.T) {
	for in, want := range map[string]string{
		"always [madvise] never\n": "madvise",
		"[always] madvise never":   "always",
		"always madvise [never]":   "never",
		"always madvise never":     "",
		"":                         "",
	} {
		if got := ParseHugePageMode(in); got != want {
			t.Errorf("ParseHugePageMode(%q) = %q, want %q", in, got, want)
		}
	}
	if b, err := os.ReadFile(hugePageMode); err == nil && Describe().HugePages != ParseHugePageMode(string(b)) {
		t.Errorf("Describe().HugePages = %q, the kernel says %q", Describe().HugePages, b)
	}
}

func TestFreeBytesIsWithinTheFileSystem(t *testing.T) {
	dir := t.TempDir()
	free, err := FreeBytes(dir)
	if err != nil {
		t.Fatal(err)
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	if total := st.Blocks * uint64(st.Bsize); free == 0 || free > total {
		t.Errorf("FreeBytes(%s) = %d; want between 1 and the file system's %d bytes", dir, free, total)
	}
	if _, err := FreeBytes(filepath.Join(dir, "missing")); err == nil {
		t.Error("FreeBytes of a missing path: no error")
	}
}

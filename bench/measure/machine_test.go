package measure

import (
	"runtime"
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

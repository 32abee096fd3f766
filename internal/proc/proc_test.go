package proc

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func lookPath(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatal(err)
	}
	p, _ = filepath.EvalSymlinks(p)
	return p
}

func TestStartAliveStop(t *testing.T) {
	sleep := lookPath(t, "sleep")
	log := filepath.Join(t.TempDir(), "sleep.log")
	pid, err := Start(context.Background(), Spec{Name: "sleeper", Bin: sleep, Args: []string{"30"}}, log)
	if err != nil {
		t.Fatal(err)
	}
	if !Alive(pid, sleep) {
		t.Fatal("started process not alive")
	}
	if Alive(pid, lookPath(t, "sh")) {
		t.Fatal("Alive accepted the wrong executable (a reused PID would be signalled)")
	}
	if err := Stop(pid, sleep, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if Alive(pid, sleep) {
		t.Fatal("alive after Stop")
	}
	if err := Kill(pid, sleep); err == nil {
		t.Fatal("Kill of a stopped process reported success")
	}
}

func TestKill(t *testing.T) {
	sleep := lookPath(t, "sleep")
	pid, err := Start(context.Background(), Spec{Name: "sleeper", Bin: sleep, Args: []string{"30"}}, filepath.Join(t.TempDir(), "l"))
	if err != nil {
		t.Fatal(err)
	}
	if err := Kill(pid, sleep); err != nil || Alive(pid, sleep) {
		t.Fatalf("Kill: %v, alive %v", err, Alive(pid, sleep))
	}
}

func TestStartReportsEarlyExitWithLogTail(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	_, err = Start(context.Background(), Spec{Name: "broken", Bin: lookPath(t, "sh"), Args: []string{"-c", "echo bad config here; exit 3"}, Port: port},
		filepath.Join(t.TempDir(), "broken.log"))
	if err == nil || !strings.Contains(err.Error(), "broken exited during start-up") || !strings.Contains(err.Error(), "bad config here") {
		t.Fatalf("error %v; want the process named and its log tail", err)
	}
}

// TestMain lets the test binary act as a slow server: with PROC_TEST_LISTEN
// set it waits a moment, listens on that port and sleeps.
func TestMain(m *testing.M) {
	if port := os.Getenv("PROC_TEST_LISTEN"); port != "" {
		time.Sleep(300 * time.Millisecond)
		l, err := net.Listen("tcp", "127.0.0.1:"+port)
		if err != nil {
			os.Exit(3)
		}
		defer l.Close()
		time.Sleep(30 * time.Second)
		return
	}
	os.Exit(m.Run())
}

func TestStartWaitsForThePort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	if !PortFree(port) {
		t.Fatal("closed port reported busy")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	pid, err := Start(context.Background(), Spec{Name: "late", Bin: self, Env: []string{fmt.Sprint("PROC_TEST_LISTEN=", port)}, Port: port},
		filepath.Join(t.TempDir(), "late.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer Kill(pid, self)
	if PortFree(port) {
		t.Fatal("Start returned before the port was listening")
	}
}

package proc

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestWriters: over a fake /proc, Writers finds a process writing the
// logs and passes over one that exited while looked at; a process whose
// descriptors are denied is a gap when it runs as the logs' owner (any
// user when the logs folder cannot be read), or when its command line
// (world-readable) is the system's by isSystem, named by the program it
// returns, with its user; another user's other processes (root's daemons, a
// non-dumpable one of the caller's, which /proc gives to root) are none.
// hidepid is noted only when it may hide one of the system's: the logs
// another user's and this process not in its gid= group. Each scan names
// the user it ran as (Caller), for Missed to say.
func TestWriters(t *testing.T) {
	system := t.TempDir()
	logs := filepath.Join(system, "logs")
	if err := os.Mkdir(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(logs, "gateway.log"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	another := os.Geteuid() + 1 // the uid of another user
	// cmdlines are the command lines of the fake processes, by PID.
	cmdlines := map[string]string{
		"200": "/usr/sbin/sshd\x00-D\x00",
		"202": "/opt/vote chain/bin/gateway\x00--port\x0027100\x00",
		"203": "/usr/bin/python3\x00--config=" + filepath.Join(system, "tool.conf") + "\x00",
		"204": "",
	}
	// isSystem, the test's rule: a gateway, or a command line naming a
	// path in the system's folder, is the system's.
	isSystem := func(cmdline []byte) (Unread, bool) {
		args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
		if filepath.Base(args[0]) == "gateway" || strings.Contains(string(cmdline), system+string(filepath.Separator)) {
			return Unread{Program: filepath.Base(args[0])}, true
		}
		return Unread{}, false
	}
	// tree is a /proc of fake processes (PID: the file its stdout links
	// to, "" for none, "denied" for descriptors not to be read of a
	// process running as the caller, "denied, another user's" for those
	// of another user's, "gone" for one that exited; its command line
	// from cmdlines), mounted with options, where the logs belong to
	// another user if foreignLogs.
	tree := func(options string, foreignLogs bool, fds map[string]string) FS {
		root := t.TempDir()
		for pid, file := range fds {
			if err := os.MkdirAll(filepath.Join(root, pid, "fd"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(root, pid, "cmdline"), []byte(cmdlines[pid]), 0o444); err != nil {
				t.Fatal(err)
			}
			if filepath.IsAbs(file) {
				if err := os.Symlink(file, filepath.Join(root, pid, "fd", "1")); err != nil {
					t.Fatal(err)
				}
			}
		}
		mounts := "sysfs /sys sysfs rw 0 0\nproc /proc proc " + options + " 0 0\n"
		if err := os.MkdirAll(filepath.Join(root, "self"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "self", "mounts"), []byte(mounts), 0o644); err != nil {
			t.Fatal(err)
		}
		readlink := func(link string) (string, error) {
			switch fds[filepath.Base(filepath.Dir(filepath.Dir(link)))] {
			case "denied", "denied, another user's":
				return "", &os.PathError{Op: "readlink", Path: link, Err: os.ErrPermission}
			case "gone":
				return "", &os.PathError{Op: "readlink", Path: link, Err: os.ErrNotExist}
			}
			return os.Readlink(link)
		}
		owner := func(path string) (int, error) {
			inLogs := path == logs || strings.HasPrefix(path, logs+string(filepath.Separator))
			if inLogs && foreignLogs || filepath.Dir(path) == root && fds[filepath.Base(path)] == "denied, another user's" {
				return another, nil
			}
			return FileOwner(path)
		}
		return FS{root, readlink, owner}
	}
	groups, _ := os.Getgroups()
	notMine := os.Getegid() + 1 // a group this process is not a member of
	for notMine == os.Getegid() || slices.Contains(groups, notMine) {
		notMine++
	}
	// caller is Scan.Caller: the user the scan ran as.
	caller := UserName(os.Geteuid())
	realLog, err := filepath.EvalSymlinks(filepath.Join(logs, "gateway.log")) // as /proc names it
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		why  string
		logs string // "": the folder holding gateway.log
		proc FS
		want Scan
	}{
		{"every process looked at", "", tree("rw,relatime,hidepid=0", true, map[string]string{"100": "/var/log/other.log", "101": "", "102": "gone"}), Scan{}},
		{"a process's descriptors not readable", "", tree("rw,relatime", false, map[string]string{"100": "/var/log/other.log", "200": "denied"}), Scan{Unreadable: 1}},
		{"two processes' descriptors not readable, of the logs' owner", "", tree("rw,relatime", false, map[string]string{"200": "denied", "203": "denied"}), Scan{Unreadable: 2}},
		{"another user's processes' descriptors not readable", "", tree("rw,relatime", false, map[string]string{"100": "/var/log/other.log", "200": "denied, another user's", "204": "denied, another user's"}), Scan{}},
		{"another user's gateway, and a process naming the system's folder, descriptors not readable", "", tree("rw,relatime", false, map[string]string{"202": "denied, another user's", "203": "denied, another user's"}),
			Scan{Named: []Unread{{PID: 202, User: UserName(another), Program: "gateway"}, {PID: 203, User: UserName(another), Program: "python3"}}}},
		{"a process of the logs' owner and another user's gateway, descriptors not readable", "", tree("rw,relatime", false, map[string]string{"200": "denied", "202": "denied, another user's"}),
			Scan{Unreadable: 1, Named: []Unread{{PID: 202, User: UserName(another), Program: "gateway"}}}},
		{"another user's process's descriptors not readable, the logs folder not there", filepath.Join(t.TempDir(), "logs"), tree("rw,relatime", false, map[string]string{"200": "denied, another user's"}), Scan{Unreadable: 1}},
		{"/proc mounted with hidepid, the logs another user's", "", tree("rw,nosuid,hidepid=invisible", true, map[string]string{"100": ""}), Scan{Hidepid: "invisible"}},
		{"/proc mounted with hidepid, the logs the caller's", "", tree("rw,nosuid,hidepid=invisible", false, map[string]string{"100": ""}), Scan{}},
		{"/proc mounted with hidepid and gid= of the caller's group", "", tree(fmt.Sprintf("rw,hidepid=2,gid=%d", os.Getegid()), true, map[string]string{"100": ""}), Scan{}},
		{"/proc mounted with hidepid and gid= of another group", "", tree(fmt.Sprintf("rw,hidepid=2,gid=%d", notMine), true, map[string]string{"100": ""}), Scan{Hidepid: "2"}},
		{"a process writing the logs", "", tree("rw,hidepid=2", true, map[string]string{"300": filepath.Join(logs, "gateway.log"), "200": "denied"}),
			Scan{Writers: []string{"PID 300 (output in " + realLog + ")"}, Hidepid: "2"}},
	} {
		c.want.Caller = caller
		got, err := c.proc.Writers(cmp.Or(c.logs, logs), isSystem)
		if err != nil || !slices.Equal(got.Writers, c.want.Writers) || got.Unreadable != c.want.Unreadable || !slices.Equal(got.Named, c.want.Named) || got.Hidepid != c.want.Hidepid || got.Caller != c.want.Caller {
			t.Errorf("%s: %+v, %v; want %+v", c.why, got, err, c.want)
		}
	}
	if _, err := (FS{Root: filepath.Join(t.TempDir(), "none")}).Writers(logs, isSystem); err == nil {
		t.Error("Writers over a /proc that is not there: no error")
	}
}

// TestScanMissed: Missed is "" for a complete scan, and names each reason
// a scan may have missed processes, with counts in the singular or plural.
func TestScanMissed(t *testing.T) {
	for _, c := range []struct {
		scan Scan
		want string
	}{
		{Scan{Writers: []string{"PID 1 (output in /l/a.log)"}}, ""},
		{Scan{Unreadable: 1}, "the descriptors of 1 process running as the logs' owner could not be read"},
		{Scan{Hidepid: "2", Unreadable: 2, Named: []Unread{{PID: 202, User: "redis", Program: "redis-server titled 127.0.0.1:27379, a port in the range the port plan reserves (27000–27399)", Port: 27379}}, Caller: "vote"},
			"/proc is mounted with hidepid=2, which hides other users' processes, and the logs belong to another user; the descriptors of 2 processes running as the logs' owner could not be read; the descriptors of 1 process of another user, whose command line names one of the system's programs, ports or paths, could not be read by this user (vote), so whether it writes the system's logs is not known: PID 202 (redis-server titled 127.0.0.1:27379, a port in the range the port plan reserves (27000–27399), user redis)"},
		{Scan{Named: []Unread{{PID: 202, Program: "gateway"}, {PID: 203, User: "uid 1234", Program: "python3"}}, Caller: "uid 1000"},
			"the descriptors of 2 processes of another user, whose command line names one of the system's programs, ports or paths, could not be read by this user (uid 1000), so whether they write the system's logs is not known: PID 202 (gateway), PID 203 (python3, user uid 1234)"},
	} {
		if got := c.scan.Missed(); got != c.want {
			t.Errorf("%+v.Missed() = %q; want %q", c.scan, got, c.want)
		}
	}
}

// TestHidepid: the last proc mount on /proc counts; hidepid 0 and off hide
// nothing; gid= is read with it, -1 without.
func TestHidepid(t *testing.T) {
	for _, c := range []struct {
		mounts string
		option string
		gid    int
	}{
		{"proc /proc proc rw,relatime 0 0\n", "", -1},
		{"proc /proc proc rw,hidepid=off,gid=5 0 0\n", "", 5},
		{"proc /proc proc rw,hidepid=2 0 0\nproc /proc proc rw,hidepid=invisible,gid=7 0 0\n", "invisible", 7},
		{"proc /proc proc rw,hidepid=2,gid=7 0 0\nproc /proc proc rw 0 0\n", "", -1},
		{"proc /mnt/proc proc rw,hidepid=2 0 0\n", "", -1},
	} {
		if option, gid := hidepid(c.mounts); option != c.option || gid != c.gid {
			t.Errorf("hidepid(%q) = %q, %d; want %q, %d", c.mounts, option, gid, c.option, c.gid)
		}
	}
}

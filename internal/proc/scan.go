package proc

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// FS is a /proc to scan: its folder, how a descriptor's link is read and
// a file's owner found, all three required. Machine is the machine's;
// tests give a tree, failures and owners of their own.
type FS struct {
	Root     string
	Readlink func(string) (string, error)
	Owner    func(string) (uid int, err error)
}

// Machine is the machine's /proc.
func Machine() FS { return FS{"/proc", os.Readlink, FileOwner} }

// FileOwner is the uid owning the file at path (symbolic links followed).
// For /proc/PID it is the process's user, root for one that is not
// dumpable (proc(5)), such as ssh-agent or a setuid program.
func FileOwner(path string) (int, error) {
	info, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, fmt.Errorf("%s: no owner known", path)
	}
	return int(st.Uid), nil
}

// Scan is what FS.Writers saw: the processes writing the folder, and
// what may have hidden some of the system's from it.
type Scan struct {
	Writers    []string
	Unreadable int      // processes running as a logs' owner whose descriptors could not be read
	Named      []Unread // other users' processes whose descriptors could not be read and whose command line names the system (the isSystem of Writers)
	Hidepid    string   // /proc's hidepid mount option, when it may hide a logs' owner's processes from this one
	Caller     string   // the user the scan ran as (effective; UserName), who could not read Named's descriptors
}

// Unread is what a scan knows of another user's process whose descriptors
// it could not read (only root and the process's own user may): its PID,
// its user (a name, else "uid N"; "" when /proc did not say) and what in
// its command line, which anyone may read, makes it possibly one of the
// system's (what isSystem returns: the program, as text to name it by,
// and a port the command line shows, such as the address redis-server
// writes into its title). Whether it writes the system's logs is what is
// not known.
type Unread struct {
	PID     int
	User    string
	Program string
	Port    int // the port its command line shows (redis-server's title), 0 for none: not one seen listening
}

// String is "PID n (PROGRAM, user USER)", "PID n (PROGRAM)" when the user
// is unknown.
func (u Unread) String() string {
	if u.User == "" {
		return fmt.Sprintf("PID %d (%s)", u.PID, u.Program)
	}
	return fmt.Sprintf("PID %d (%s, user %s)", u.PID, u.Program, u.User)
}

// UserName is the name of the user uid, "uid N" when the machine's user
// database does not know it.
func UserName(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return u.Username
	}
	return fmt.Sprintf("uid %d", uid)
}

// userNames is UserName looked up once per uid, for one scan.
type userNames map[int]string

func (names userNames) of(uid int) string {
	name, ok := names[uid]
	if !ok {
		name = UserName(uid)
		names[uid] = name
	}
	return name
}

// Missed says why s may have missed processes, "" if none could be.
func (s Scan) Missed() string {
	var why []string
	if s.Hidepid != "" {
		why = append(why, "/proc is mounted with hidepid="+s.Hidepid+", which hides other users' processes, and the logs belong to another user")
	}
	if s.Unreadable > 0 {
		why = append(why, fmt.Sprintf("the descriptors of %d %s running as the logs' owner could not be read", s.Unreadable, processes(s.Unreadable)))
	}
	if len(s.Named) > 0 {
		named := make([]string, len(s.Named))
		for i, u := range s.Named {
			named[i] = u.String()
		}
		n := len(s.Named)
		why = append(why, fmt.Sprintf("the descriptors of %d %s of another user, whose command line names one of the system's programs, ports or paths, could not be read by this user (%s), so whether %s the system's logs is not known: %s",
			n, processes(n), s.Caller, plural(n, "it writes", "they write"), strings.Join(named, ", ")))
	}
	return strings.Join(why, "; ")
}

// processes is "process" for n of 1, else "processes".
func processes(n int) string { return plural(n, "process", "processes") }

// plural is one for n of 1, else many.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// Writers names the processes, this one aside, whose standard output or
// error is a file in the folder logs (compared as the kernel gives the
// file's path: symbolic links resolved), each as "PID n (output in
// FILE)". A process whose descriptors cannot be read is passed over, and
// counted as a gap in the scan only when it could be one of the system's:
// reading was not permitted (not: it exited meanwhile), and it runs as a
// user owning the logs folder or a file in it (any user when those cannot
// be read), or its command line, which /proc lets anyone read, marks it
// as one of the system's (isSystem, given the command line as
// /proc/PID/cmdline holds it, returns what the line shows, Unread's
// Program and Port; Writers sets the PID and User), whatever its user: the system started again by another user (root)
// appends to the logs that the first made. Another process of another
// user is not one the system started, and neither is one /proc gives to
// root for not being dumpable (ssh-agent), which none of the system's
// programs is, unless root owns the logs. So root's daemons and such
// processes of the caller's, whose descriptors a user other than root
// cannot read, are no gap. Nor is a process /proc does not list: the scan
// notes /proc's hidepid mount option, read from self/mounts, only when it
// may hide one of the system's (hidepidHides). Users are named
// (UserName) as the scan runs, each looked up once.
func (p FS) Writers(logs string, isSystem func(cmdline []byte) (shown Unread, ok bool)) (Scan, error) {
	if real, err := filepath.EvalSymlinks(logs); err == nil {
		logs = real
	}
	entries, err := os.ReadDir(p.Root)
	if err != nil {
		return Scan{}, err
	}
	owners := p.logOwners(logs)
	mounts, _ := os.ReadFile(filepath.Join(p.Root, "self", "mounts")) // unread: no hidepid known
	names := userNames{}
	scan := Scan{Caller: names.of(os.Geteuid())}
	if option, gid := hidepid(string(mounts)); option != "" && hidepidHides(gid, owners) {
		scan.Hidepid = option
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		for _, fd := range []string{"1", "2"} {
			file, err := p.Readlink(filepath.Join(p.Root, e.Name(), "fd", fd))
			if errors.Is(err, fs.ErrPermission) {
				uid, uidErr := p.Owner(filepath.Join(p.Root, e.Name()))
				if uidErr == nil && (owners == nil || owners[uid]) {
					scan.Unreadable++
				} else if cmdline, err := os.ReadFile(filepath.Join(p.Root, e.Name(), "cmdline")); err == nil {
					if u, ok := isSystem(cmdline); ok {
						u.PID = pid
						if uidErr == nil {
							u.User = names.of(uid)
						}
						scan.Named = append(scan.Named, u)
					}
				}
				break
			}
			if err == nil && strings.HasPrefix(file, logs+string(filepath.Separator)) {
				scan.Writers = append(scan.Writers, fmt.Sprintf("PID %d (output in %s)", pid, file))
				break
			}
		}
	}
	return scan, nil
}

// logOwners is the set of uids owning the folder logs or a file in it,
// nil when the folder cannot be read (then any user's process may be one
// of the system's).
func (p FS) logOwners(logs string) map[int]bool {
	entries, err := os.ReadDir(logs)
	if err != nil {
		return nil
	}
	paths := []string{logs}
	for _, e := range entries {
		paths = append(paths, filepath.Join(logs, e.Name()))
	}
	owners := map[int]bool{}
	for _, path := range paths {
		if uid, err := p.Owner(path); err == nil {
			owners[uid] = true
		}
	}
	return owners
}

// hidepidHides reports whether /proc mounted with hidepid (and gid=gid,
// -1 for none) may hide from this process one of the system's, whose
// logs owners own (logOwners; nil: unknown): hidepid hides only other
// users' processes, and none from a member of its gid= group.
func hidepidHides(gid int, owners map[int]bool) bool {
	if gid >= 0 && inGroup(gid) {
		return false
	}
	if owners == nil {
		return true
	}
	for uid := range owners {
		if uid != os.Geteuid() {
			return true
		}
	}
	return false
}

// inGroup reports whether this process is a member of group gid: its
// effective group or one of its supplementary groups.
func inGroup(gid int) bool {
	if os.Getegid() == gid {
		return true
	}
	groups, _ := os.Getgroups()
	return slices.Contains(groups, gid)
}

// hidepid is the hidepid option of the proc file system mounted on /proc
// in mounts (as /proc/self/mounts lists them; the last such mount is the
// one seen), "" if it has none or one that hides nothing (0, off), and
// its gid option, the group whose members see every process (-1: none).
func hidepid(mounts string) (option string, gid int) {
	gid = -1
	for _, line := range strings.Split(mounts, "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || f[1] != "/proc" || f[2] != "proc" {
			continue
		}
		option, gid = "", -1
		for _, opt := range strings.Split(f[3], ",") {
			if v, ok := strings.CutPrefix(opt, "hidepid="); ok && v != "0" && v != "off" {
				option = v
			}
			if v, ok := strings.CutPrefix(opt, "gid="); ok {
				if n, err := strconv.Atoi(v); err == nil {
					gid = n
				}
			}
		}
	}
	return option, gid
}

package rundir

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/votechain/votechain/network"
)

// Tool is a program that acts on the run folder its --dir names
// (votechain, vcnet), as advice in messages writes its command lines.
type Tool struct {
	// Name is the program's name: "votechain".
	Name string
	// MakeDir is the --dir the Makefile's targets give the program,
	// relative to the project's folder: ".run".
	MakeDir string
	// MakeTargets are the make targets that run the program's commands
	// on MakeDir, by the command's words ("down --wipe").
	MakeTargets map[string]string
}

// Command is the command line, in backquotes, that runs t's command words
// ("down", "--wipe") on the run folder dir, for advice in messages. It is
// the make target when words have one, dir is t.MakeDir of the working
// directory, the working directory is the project's (inProject)
// and portBase is 0 or network.DefaultPortBase (make's). Else it is t's
// program (Program) with dir written out, and --port-base portBase when
// that is neither 0 nor the default, so that following it acts on the
// folder and the ports the message is about, never on make's system.
func (t Tool) Command(dir string, portBase int, words ...string) string {
	joined := strings.Join(words, " ")
	defaultPorts := portBase == 0 || portBase == network.DefaultPortBase
	if target, ok := t.MakeTargets[joined]; ok && defaultPorts && sameFolder(dir, t.MakeDir) && inProject() {
		return "`" + target + "`"
	}
	line := t.Program() + " --dir " + ShellQuote(dir)
	if !defaultPorts {
		line += " --port-base " + strconv.Itoa(portBase)
	}
	return "`" + line + " " + joined + "`"
}

// Program is how advice names t's program: as the user ran it when this
// process is t's program (os.Args[0] as typed: a path, or the bare name
// the shell found on PATH). Another program's advice about t names t as
// it would be run the same way: the file NAME beside os.Args[0] when that
// is a path and the file exists, the bare NAME when os.Args[0] is a bare
// name and NAME is on PATH. Else it is bin/NAME, where make builds it in
// the project. A path in the temporary folder (go run's build) is not kept.
func (t Tool) Program() string {
	ran := os.Args[0]
	if filepath.Base(ran) != t.Name {
		return t.besideRan(ran)
	}
	if !strings.ContainsRune(ran, '/') {
		return ran
	}
	if abs, err := filepath.Abs(ran); err == nil && strings.HasPrefix(abs, filepath.Clean(os.TempDir())+string(filepath.Separator)) {
		return "bin/" + t.Name
	}
	return ShellQuote(ran)
}

// besideRan names t's program for a process run as ran, another program:
// the file NAME in ran's folder when ran is a path and that file exists
// (with "./" kept, so that the shell does not look it up on PATH), the
// bare NAME when ran is a bare name and NAME is on PATH, else bin/NAME.
func (t Tool) besideRan(ran string) string {
	if !strings.ContainsRune(ran, '/') {
		if _, err := exec.LookPath(t.Name); err == nil {
			return t.Name
		}
		return "bin/" + t.Name
	}
	path := filepath.Join(filepath.Dir(ran), t.Name)
	if info, err := os.Stat(path); err != nil || !info.Mode().IsRegular() {
		return "bin/" + t.Name
	}
	if !strings.ContainsRune(path, '/') {
		path = "./" + path
	}
	return ShellQuote(path)
}

// sameFolder reports whether a and b name the same folder from the working
// directory (compared as absolute paths, symbolic links resolved where they
// exist).
func sameFolder(a, b string) bool {
	resolve := func(p string) string {
		abs, err := filepath.Abs(p)
		if err != nil {
			return p
		}
		if real, err := filepath.EvalSymlinks(abs); err == nil {
			return real
		}
		return abs
	}
	return resolve(a) == resolve(b)
}

// ShellQuote returns s as a shell word: as it is when it holds only
// characters the shell takes literally, else in single quotes.
func ShellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./-+=:,@") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

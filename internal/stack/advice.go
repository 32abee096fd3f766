package stack

import (
	"path/filepath"
	"strings"
)

// DefaultDir is the run folder of make up's system: votechain's default
// --dir, relative to the working directory (make runs it in the project's).
const DefaultDir = ".run"

// makeTargets are the make targets that run a votechain command on the
// system in DefaultDir, by the command's words.
var makeTargets = map[string]string{
	"up":          "make up",
	"down":        "make down",
	"down --wipe": "make down WIPE=1",
	"status":      "make status",
}

// Command is the command line, in backquotes, that runs the votechain
// command words ("down", "--wipe") on the system in the run folder dir, for
// advice in messages: the make target when dir is DefaultDir of the working
// directory and words have one (makeTargets), else bin/votechain with dir
// written out, so that advice about another folder (.run/bench) never sends
// the operator to make's system (a wipe of the live election).
func Command(dir string, words ...string) string {
	joined := strings.Join(words, " ")
	if target, ok := makeTargets[joined]; ok && sameFolder(dir, DefaultDir) {
		return "`" + target + "`"
	}
	return "`bin/votechain --dir " + shellQuote(dir) + " " + joined + "`"
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

// shellQuote returns s as a shell word: as it is when it holds only
// characters the shell takes literally, else in single quotes.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./-+=:,@") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

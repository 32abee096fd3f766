package cli

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"
)

// HelpFlag is one flag as a command's --help lists it (flag.PrintDefaults
// under Usage's header): what a variable of the command's environment can
// set, and the default it would change.
type HelpFlag struct {
	Name string
	// Type is the value's kind as --help names it (int, duration, string,
	// or the word the usage quotes); "" for a boolean.
	Type string
	// Default is the value the flag takes unless set, as --help shows it
	// (a string's unquoted); --help shows none for a type's zero value,
	// which Default then spells (0, 0s, false, "").
	Default string
}

// helpFlagsHeader opens the flag list in Usage's output; ParseHelp reads
// the flags after it.
const helpFlagsHeader = "Flags (each may also be set by the environment variable "

// ParseHelp reads the flags a command's --help lists: the lines
// flag.PrintDefaults writes after Usage's "Flags (...)" header (the whole
// text if it has none). "  -name type" opens a flag (a one-letter boolean's
// usage follows on its own line after a tab), indented "    \t" lines carry
// its usage, and a usage ending " (default V)" gives its default (V quoted
// for a string). An empty line ends the list.
func ParseHelp(help string) []HelpFlag {
	if _, after, ok := strings.Cut(help, "\n"+helpFlagsHeader); ok {
		help = after
	} else if rest, ok := strings.CutPrefix(help, helpFlagsHeader); ok {
		help = rest
	}
	var flags []HelpFlag
	var usage []string // of the last flag
	done := func() {
		if len(flags) > 0 {
			f := &flags[len(flags)-1]
			f.Default = helpDefault(strings.Join(usage, " "), f.Type)
		}
		usage = nil
	}
	for _, line := range strings.Split(help, "\n") {
		if line == "" && len(flags) > 0 {
			break // the end of the list: notes may follow
		}
		if u, ok := strings.CutPrefix(line, "    \t"); ok && len(flags) > 0 {
			usage = append(usage, u)
			continue
		}
		head, ok := strings.CutPrefix(line, "  -")
		if !ok || head == "" || head[0] == '-' || head[0] == ' ' {
			continue
		}
		done()
		var f HelpFlag
		if name, u, ok := strings.Cut(head, "\t"); ok { // "  -x\tusage"
			f.Name, usage = name, []string{u}
		} else {
			f.Name, f.Type, _ = strings.Cut(head, " ")
		}
		flags = append(flags, f)
	}
	done()
	return flags
}

// helpDefault is the default a flag's usage text states, else the zero
// value of its type. A usage that itself ends in "(default ...)" words,
// with no default after them, is told apart by the space in them: a
// default the flag package prints unquoted (a number, a duration, a
// boolean, a value of the project's own) has none.
func helpDefault(usage, typ string) string {
	if i := strings.LastIndex(usage, " (default "); i >= 0 && strings.HasSuffix(usage, ")") {
		v := usage[i+len(" (default ") : len(usage)-1]
		if s, err := strconv.Unquote(v); err == nil && strings.HasPrefix(v, `"`) {
			return s
		}
		if !strings.Contains(v, " ") {
			return v
		}
	}
	switch {
	case typ == "":
		return "false"
	case typ == "duration":
		return "0s"
	case strings.HasPrefix(typ, "int"), strings.HasPrefix(typ, "uint"), strings.HasPrefix(typ, "float"):
		return "0"
	}
	return ""
}

// CommandFlags runs bin --help, in an empty environment, and returns the
// flags it lists (ParseHelp): what the command reads from its environment.
// A command that does not answer, or lists no flag, is an error.
func CommandFlags(ctx context.Context, bin string) ([]HelpFlag, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--help")
	cmd.Env = []string{}
	out, err := cmd.CombinedOutput()
	if err != nil {
		first, _, _ := strings.Cut(string(bytes.TrimSpace(out)), "\n")
		return nil, fmt.Errorf("%s --help: %w %s", bin, err, first)
	}
	flags := ParseHelp(string(out))
	if len(flags) == 0 {
		return nil, fmt.Errorf("%s --help lists no flags", bin)
	}
	return flags, nil
}

// EnvReader is a command that reads its flags from its environment
// (ApplyEnv) as a caller starts it: its name, its variables' prefix, its
// binary, and the command line it is given, whose flags win over the
// environment.
type EnvReader struct {
	Name   string // e.g. batcher
	Prefix string // e.g. BATCHER
	Bin    string
	Args   []string
}

// EnvCheck is what the variables set under some prefixes do to the
// commands that read them. Values are shown as EnvSettings shows them.
type EnvCheck struct {
	// Overrides are the variables that set a flag, "NAME=value: command
	// --flag (default D)", sorted by name; one that repeats the default
	// says so.
	Overrides []string
	// Unread are the variables that change nothing, "NAME: why", sorted by
	// name: no flag of the command is named so (a misspelling; the
	// nearest name is suggested), or the command line gives the flag.
	Unread []string
}

// CheckEnv reads each reader's flags from its --help (CommandFlags) and
// sorts the variables of this process's environment under the readers'
// prefixes into EnvCheck's overrides and unread ones. Readers share no
// prefix.
func CheckEnv(ctx context.Context, readers []EnvReader) (EnvCheck, error) {
	var c EnvCheck
	prefixes := make([]string, len(readers))
	flags := make([][]HelpFlag, len(readers))
	for i, r := range readers {
		prefixes[i] = r.Prefix
		f, err := CommandFlags(ctx, r.Bin)
		if err != nil {
			return c, fmt.Errorf("the flags of %s: %w", r.Name, err)
		}
		flags[i] = f
	}
	for _, v := range envVars(prefixes) {
		i := slices.IndexFunc(readers, func(r EnvReader) bool { return strings.HasPrefix(v.name, r.Prefix+"_") })
		r := readers[i]
		j := slices.IndexFunc(flags[i], func(f HelpFlag) bool { return EnvName(r.Prefix, f.Name) == v.name })
		if j < 0 {
			c.Unread = append(c.Unread, fmt.Sprintf("%s: %s has no such flag%s", v.name, r.Name, suggestion(v.name, r.Prefix, flags[i])))
			continue
		}
		f := flags[i][j]
		if passes(r.Args, f.Name) {
			c.Unread = append(c.Unread, fmt.Sprintf("%s: %s is given --%s on its command line, which wins", v.name, r.Name, f.Name))
			continue
		}
		def := "default " + f.Default
		if f.Default == "" {
			def = "default empty"
		}
		if v.value == f.Default {
			def = "the default"
		}
		c.Overrides = append(c.Overrides, fmt.Sprintf("%s=%s: %s --%s (%s)", v.name, v.shown, r.Name, f.Name, def))
	}
	return c, nil
}

// passes says whether args give flag name (-name, --name, with =value or
// not).
func passes(args []string, name string) bool {
	return slices.ContainsFunc(args, func(a string) bool {
		if !strings.HasPrefix(a, "-") {
			return false
		}
		n, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		return n == name
	})
}

// suggestion is " (did you mean NAME?)" for the variable of flags nearest
// to name (at most 3 edits, else ""): a misspelling's likely intent.
func suggestion(name, prefix string, flags []HelpFlag) string {
	best, bestD := "", 4
	for _, f := range flags {
		if d := editDistance(name, EnvName(prefix, f.Name)); d < bestD {
			best, bestD = EnvName(prefix, f.Name), d
		}
	}
	if best == "" {
		return ""
	}
	return " (did you mean " + best + "?)"
}

// editDistance is the Levenshtein distance between a and b (bytes).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

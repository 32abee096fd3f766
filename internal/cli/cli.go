// Package cli is what Votechain's commands share on the command line: every
// flag can also be set by an environment variable named after the command
// and the flag (prefix GATEWAY and flag redis-addr give GATEWAY_REDIS_ADDR),
// and flags win over the environment, the environment over defaults. The
// flags several commands take (Redis, the ledger, logging, the election
// secret) are registered here once, with defaults from the default port
// plan, and so is the one progress bar. So are the checks of flag values
// (check.go: CheckAddrs, IntsIn, FloatsAtLeast, DurationsAtLeast,
// DurationsPositive, DurationsIn, SplitList, Prefixes; CheckBaseURL,
// Ledger.Check) that commands make up front, each refusal a usage error
// naming the flag and each check reporting every bad flag it was given;
// OnlyWith marks the flags only one command of several takes. Main runs a
// command on a context that SIGINT or SIGTERM ends (the signal its cause)
// and maps its error to the exit status (ExitStatus).
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// EnvName is the environment variable that sets flag name under prefix.
func EnvName(prefix, name string) string {
	return prefix + "_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// ApplyEnv sets every flag of fs that the command line did not set from its
// environment variable (EnvName), if that is set. Call it after fs.Parse.
// A value a flag cannot take is a usage error naming the variable and the
// flag, and for a duration the form one takes (durationForm); so is a set
// variable of a CommandLineOnly flag.
func ApplyEnv(fs *flag.FlagSet, prefix string) error { return applyEnv(fs, prefix, nil) }

// applyEnv is ApplyEnv leaving out the flags skip reports (nil: none).
func applyEnv(fs *flag.FlagSet, prefix string, skip func(*flag.Flag) bool) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	defer explainDurations(fs)()
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || (skip != nil && skip(f)) {
			return
		}
		env := EnvName(prefix, f.Name)
		if v, ok := os.LookupEnv(env); ok {
			if isCommandLineOnly(f) {
				errs = append(errs, fmt.Errorf("$%s is set, but --%s is taken from the command line only (a setting left in the environment must not wipe or accept by itself): unset the variable and give --%s where it is meant", env, f.Name, f.Name))
				return
			}
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("$%s=%q: not a valid --%s: %w", env, v, f.Name, err))
			}
		}
	})
	if len(errs) > 0 {
		return usageError{errors.Join(errs...)}
	}
	return nil
}

// CommandLineOnly makes the named flags of fs ones the environment does not
// set (each defined before): flags whose effect is hard to undo, such as
// deleting data or accepting what a check refused, which a variable left
// set in an operator's shell must not apply to every later run. ApplyEnv
// refuses to run while such a flag's variable is set, saying so. The mark
// is the note it adds to the flag's usage, which the help shows.
func CommandLineOnly(fs *flag.FlagSet, names ...string) {
	for _, name := range names {
		if f := lookupFlag(fs, name); !isCommandLineOnly(f) {
			f.Usage += commandLineOnlyNote
		}
	}
}

// OnlyWith makes the named flags of fs (each defined before) flags of the
// command word cmd alone, for ParseCommand: it begins each one's usage
// with "with cmd: ", which the help shows and ParseCommand reads.
func OnlyWith(fs *flag.FlagSet, cmd string, names ...string) {
	for _, name := range names {
		f := lookupFlag(fs, name)
		f.Usage = "with " + cmd + ": " + f.Usage
	}
}

// commandLineOnlyNote ends the usage of a CommandLineOnly flag.
const commandLineOnlyNote = " (command line only: no environment variable sets it)"

func isCommandLineOnly(f *flag.Flag) bool { return strings.HasSuffix(f.Usage, commandLineOnlyNote) }

// durationForm is what a duration flag's value that is not a duration is
// told: the form one takes (the flag package says only "parse error").
const durationForm = "want a duration such as 90s, 5m or 1h30m (a number and its unit: ns, us, ms, s, m or h)"

// durationValue is a duration flag's own Value whose Set refuses what is
// not a duration with durationForm.
type durationValue struct{ flag.Value }

func (d durationValue) Set(s string) error {
	if d.Value.Set(s) != nil {
		return errors.New(durationForm)
	}
	return nil
}

// explainDurations gives every duration flag of fs (a Value whose Get is a
// time.Duration) a durationValue until the function it returns puts the
// flags' own Values back. fs.Usage, which the flag package calls while
// parsing (--help, a mistake), puts them back first, so that the help still
// names their type ("duration"); a FlagSet without a Usage gets the flag
// package's default one.
func explainDurations(fs *flag.FlagSet) (restore func()) {
	own := map[*flag.Flag]flag.Value{}
	fs.VisitAll(func(f *flag.Flag) {
		if g, ok := f.Value.(flag.Getter); ok {
			if _, ok := g.Get().(time.Duration); ok {
				own[f] = f.Value
				f.Value = durationValue{f.Value}
			}
		}
	})
	usage := fs.Usage
	restore = func() {
		for f, v := range own {
			f.Value = v
		}
		fs.Usage = usage
	}
	fs.Usage = func() {
		restore()
		if usage == nil {
			fmt.Fprintf(fs.Output(), "Usage of %s:\n", fs.Name())
			fs.PrintDefaults()
			return
		}
		usage()
	}
	return restore
}

// EnvSettings lists the variables of the environment that may set flags of
// the commands with the given prefixes (PREFIX_…, as EnvName names them),
// as NAME=value sorted by name: a record of what a process started with
// this environment was given, for a benchmark's report. The value of a name
// that contains SECRET, PASSWORD, TOKEN or KEY is never shown: "(set)"
// stands for it. None set: nil.
func EnvSettings(prefixes ...string) []string {
	var out []string
	for _, v := range envVars(prefixes) {
		out = append(out, v.name+"="+v.shown)
	}
	return out
}

// envVar is a variable of the environment: its name, its value, and the
// value as shown ("(set)" for a secret's).
type envVar struct{ name, value, shown string }

// envVars are the variables of the environment under the prefixes
// (PREFIX_…), sorted by name, each shown as EnvSettings says.
func envVars(prefixes []string) []envVar {
	var out []envVar
	for _, kv := range os.Environ() {
		name, value, _ := strings.Cut(kv, "=")
		if !slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(name, p+"_") }) {
			continue
		}
		shown := value
		if slices.ContainsFunc(secretWords, func(w string) bool { return strings.Contains(strings.ToUpper(name), w) }) {
			shown = "(set)"
		}
		out = append(out, envVar{name, value, shown})
	}
	slices.SortFunc(out, func(a, b envVar) int { return strings.Compare(a.name, b.name) })
	return out
}

// secretWords mark a variable whose value EnvSettings does not show.
var secretWords = []string{"SECRET", "PASSWORD", "TOKEN", "KEY"}

// Usage returns a usage function printing the synopsis, the flags and how
// the environment sets them, where the shared secrets come from (for the
// shared flags fs has), then the epilogue (if any).
func Usage(fs *flag.FlagSet, prefix, synopsis, epilogue string) func() {
	return func() {
		w := fs.Output()
		fmt.Fprintf(w, "%s\n\n%s%s, e.g. %s; flags win):\n",
			strings.TrimRight(synopsis, "\n"), helpFlagsHeader, EnvName(prefix, "<flag-name>"), EnvName(prefix, firstFlag(fs)))
		fs.PrintDefaults()
		var notes []string
		if fs.Lookup("secret-file") != nil {
			notes = append(notes, "The election secret (hex) is read from --secret-file, else $"+SecretEnv+".")
		}
		if fs.Lookup("redis-password-file") != nil {
			notes = append(notes, "The Redis password is $"+RedisPasswordEnv+" if set, else read from --redis-password-file.")
		}
		if epilogue != "" {
			notes = append(notes, strings.TrimRight(epilogue, "\n"))
		}
		if len(notes) > 0 {
			fmt.Fprintf(w, "\n%s\n", strings.Join(notes, "\n"))
		}
	}
}

func firstFlag(fs *flag.FlagSet) string {
	name := "flag"
	fs.VisitAll(func(f *flag.Flag) {
		if name == "flag" {
			name = f.Name
		}
	})
	return name
}

// Parse parses args, which may put flags after the command word too
// ("down --wipe"), applies the environment, and returns the command word
// ("" if none) and any arguments after it. Mistakes wrap ErrUsage; --help
// gives flag.ErrHelp.
func Parse(fs *flag.FlagSet, prefix string, args []string) (string, []string, error) {
	cmd, rest, err := parseCommandLine(fs, args)
	if err != nil {
		return "", nil, err
	}
	return cmd, rest, ApplyEnv(fs, prefix)
}

// ParseCommand parses the command line of a command of commands (its
// command words, none of which takes arguments) as Parse does, and refuses
// as usage errors: no command word or one not among commands (printing
// fs.Usage first), words after it, naming them, and a flag of one command
// given on the command line to another, naming both. A flag's command is
// the one its usage begins with, as "with down: delete all data" (OnlyWith
// writes it; a flag that would be ignored is a mistake); from the
// environment such a flag is read for its own command alone (a variable
// left set for one command neither applies to nor stops another, but a
// CommandLineOnly flag's is refused for every command). It returns the
// command word.
func ParseCommand(fs *flag.FlagSet, prefix string, args []string, commands ...string) (string, error) {
	cmd, rest, err := parseCommandLine(fs, args)
	switch {
	case err != nil:
		return "", err
	case cmd == "":
		fs.Usage()
		return "", Usagef("no command given")
	case !slices.Contains(commands, cmd):
		fs.Usage()
		return "", Usagef("unknown command %q", cmd)
	case len(rest) > 0:
		return "", Usagef("%s takes no arguments, but was given %q (flags may come before or after the command)", cmd, rest)
	}
	var misplaced []error
	fs.Visit(func(f *flag.Flag) { // the command line's flags: ApplyEnv has not run
		if own := flagCommand(f, commands); own != "" && own != cmd {
			misplaced = append(misplaced, fmt.Errorf("--%s goes with %s, not with %s", f.Name, own, cmd))
		}
	})
	if len(misplaced) > 0 {
		return "", usageError{errors.Join(misplaced...)}
	}
	// Another command's flags are not read from the environment: a
	// variable left set for up (VOTECHAIN_VOTERS=x) neither applies to
	// down nor stops it. A command-line-only flag's variable is still
	// refused whatever the command: it must not be left set at all.
	return cmd, applyEnv(fs, prefix, func(f *flag.Flag) bool {
		own := flagCommand(f, commands)
		return own != "" && own != cmd && !isCommandLineOnly(f)
	})
}

// flagCommand is the command of commands flag f applies to alone, as its
// usage says ("with down: ..."), or "" for a flag of every command.
func flagCommand(f *flag.Flag, commands []string) string {
	after, ok := strings.CutPrefix(f.Usage, "with ")
	word, _, colon := strings.Cut(after, ":")
	if !ok || !colon || !slices.Contains(commands, word) {
		return ""
	}
	return word
}

// parseCommandLine parses args, flags then a command word then flags
// ("down --wipe"), and returns the command word ("" if none) and the
// arguments after it, without applying the environment.
func parseCommandLine(fs *flag.FlagSet, args []string) (string, []string, error) {
	if err := parseFlags(fs, args); err != nil {
		return "", nil, err
	}
	cmd, rest := fs.Arg(0), []string(nil)
	if fs.NArg() > 1 {
		if err := parseFlags(fs, fs.Args()[1:]); err != nil {
			return "", nil, err
		}
		rest = fs.Args()
	}
	return cmd, rest, nil
}

// ParseFlags parses args, which must hold flags only, and applies the
// environment under prefix (ParseArgs). Mistakes wrap ErrUsage; --help
// gives flag.ErrHelp.
func ParseFlags(fs *flag.FlagSet, prefix string, args []string) error {
	if err := ParseArgs(fs, prefix, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return Usagef("unexpected arguments %q", fs.Args())
	}
	return nil
}

// ParseArgs parses args, flags then operands (fs.Args() after it), and
// applies the environment under prefix (none for a command that reads no
// variables: prefix ""). Mistakes wrap ErrUsage; --help gives
// flag.ErrHelp.
func ParseArgs(fs *flag.FlagSet, prefix string, args []string) error {
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if prefix == "" {
		return nil
	}
	return ApplyEnv(fs, prefix)
}

// parseFlags is fs.Parse(args), with a duration flag's value that is not a
// duration refused naming the form one takes (explainDurations), and its
// mistakes wrapped in ErrUsage.
func parseFlags(fs *flag.FlagSet, args []string) error {
	restore := explainDurations(fs)
	err := fs.Parse(args)
	restore()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		return usageError{err}
	}
	return err
}

// IsSet reports whether flag name of fs was set, on the command line or
// (after Parse or ApplyEnv) by the environment.
func IsSet(fs *flag.FlagSet, name string) (set bool) {
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// ErrUsage marks a command-line mistake (Usagef, Parse): Main exits 2 for
// it instead of 1.
var ErrUsage = errors.New("usage error")

type usageError struct{ error }

func (e usageError) Unwrap() error        { return e.error }
func (e usageError) Is(target error) bool { return target == ErrUsage }

// Usagef returns a command-line mistake, described as fmt.Errorf would.
func Usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// Main runs a command's body with a context that ends on SIGINT or SIGTERM
// (signalContext: its cause an Interrupted naming the signal, later
// signals ignored while body winds down), then exits: 0 when body returns
// nil or flag.ErrHelp, whether or not a signal came (a server's orderly
// stop); otherwise it prints "name: error" and exits with the error's own
// status if it has one (an ExitStatus() int method, as Interrupted has),
// 2 for an ErrUsage, 128 + the signal's number for the cancellation a
// signal caused (cancelled: an error wrapping context.Canceled or carrying
// gRPC's code Canceled, once a signal has ended the context: 130 after
// SIGINT, 143 after SIGTERM, as a shell reports a command the signal
// stopped), and 1 for anything else, a failure of the command's own after a
// signal included (ExitStatus). A gRPC Canceled the command's context did
// not cause (a connection closing) that comes after a signal counts as the
// signal's.
func Main(name string, body func(ctx context.Context) error) {
	ctx, stop := signalContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := body(ctx)
	cause := context.Cause(ctx) // before stop, which cancels it with no cause
	stop()
	os.Exit(exitCode(os.Stderr, name, err, cause))
}

// Interrupted is the cause (context.Cause) of Main's context once SIGINT
// or SIGTERM has ended it: the signal. As an error its status is the
// shell's for the signal, 128 + its number.
type Interrupted struct{ Signal syscall.Signal }

func (i Interrupted) Error() string   { return "interrupted by " + unix.SignalName(i.Signal) }
func (i Interrupted) ExitStatus() int { return 128 + int(i.Signal) }

// signalContext is a child of parent that ends when one of sigs arrives,
// its cause an Interrupted naming the signal (signal.NotifyContext's cause
// is text alone). Later signals are caught and ignored until stop, so a
// second Ctrl-C does not kill a command while it cleans up; stop ends the
// context without a cause and gives the signals back.
func signalContext(parent context.Context, sigs ...os.Signal) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, sigs...)
	go func() {
		select {
		case s := <-ch:
			cancel(Interrupted{s.(syscall.Signal)})
		case <-ctx.Done():
		}
	}()
	return ctx, func() { signal.Stop(ch); cancel(nil) }
}

// LogFailure, deferred by a command once its logger exists (a server whose
// logs may be JSON), logs the error *err ends it with, as the log's last
// line ("stopped on an error"), and marks it logged: Main then exits with
// its status without printing it again as a plain-text line among the
// structured ones. Usage errors are left to Main, which prints them for the
// person at the terminal.
func LogFailure(log *slog.Logger, err *error) {
	if *err == nil || errors.Is(*err, flag.ErrHelp) || errors.Is(*err, ErrUsage) {
		return
	}
	log.Error("stopped on an error", "error", *err)
	*err = loggedError{*err}
}

// loggedError is an error LogFailure has logged.
type loggedError struct{ error }

func (e loggedError) Unwrap() error { return e.error }

// exitStatuser is an error that says the status Main exits with.
type exitStatuser interface{ ExitStatus() int }

// exitCode is Main's status for err, the error body ended with, and cause,
// its context's cause when body returned (ExitStatus); it prints err on w
// as "name: error" unless LogFailure logged it.
func exitCode(w io.Writer, name string, err, cause error) int {
	if err != nil && !errors.Is(err, flag.ErrHelp) && !errors.As(err, new(loggedError)) {
		fmt.Fprintf(w, "%s: %v\n", name, err)
	}
	return ExitStatus(err, cause)
}

// ExitStatus is the status Main exits with when a command's body ends with
// err while its context's cause (context.Cause) is cause: 0 for nil or
// flag.ErrHelp, err's own status (ExitStatus() int; an error wrapping an
// Interrupted has its), 2 for an ErrUsage, cause's own status (an
// Interrupted's: 128 + the signal's number) when err is the cancellation
// itself (cancelled), else 1: a failure of its own that came after a signal
// keeps its 1.
func ExitStatus(err, cause error) int {
	var own exitStatuser
	switch {
	case err == nil || errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &own):
		return own.ExitStatus()
	case errors.Is(err, ErrUsage):
		return 2
	case cancelled(err) && errors.As(cause, &own):
		return own.ExitStatus()
	default:
		return 1
	}
}

// cancelled reports whether err is a call cut short by its context's end:
// it wraps context.Canceled, or carries gRPC's code Canceled (a ledger
// call, as Fabric's gateway client returns it, which does not wrap the
// context's error).
func cancelled(err error) bool {
	return errors.Is(err, context.Canceled) || status.Code(err) == codes.Canceled
}

package aofrewrite

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/votechain/votechain/internal/cli"
	"github.com/votechain/votechain/internal/redisserver"
)

// Flags are a command's settings for the quiet-time rewrites (a batcher's:
// --aof-rewrite and the --aof-* flags, each also set by the environment,
// e.g. BATCHER_AOF_QUIET_RATE).
type Flags struct {
	Enabled      bool
	PasswordFile string
	Interval     time.Duration
	Policy       Policy
	quietRate    Bytes
	minGrowth    Bytes
	fs           *flag.FlagSet // the flags' set, for Start's checks
}

// RegisterFlags registers the flags on fs with DefaultPolicy's and
// DefaultInterval's values as defaults, and the password file where `make
// up` writes it (.run/secrets/redis/aof.password).
func RegisterFlags(fs *flag.FlagSet) *Flags {
	def := DefaultPolicy()
	f := &Flags{Policy: def, quietRate: Bytes(def.QuietRate), minGrowth: Bytes(def.MinGrowth), fs: fs}
	fs.BoolVar(&f.Enabled, "aof-rewrite", true, "rewrite Redis's AOF (BGREWRITEAOF, on each master of a cluster) while the intake is quiet; Redis's own auto-rewrite stays on as the safety net")
	fs.StringVar(&f.PasswordFile, "aof-password-file", filepath.Join(".run", "secrets", "redis", redisserver.UserAOF+".password"),
		"file holding the password of Redis ACL user "+redisserver.UserAOF+" (INFO and BGREWRITEAOF only); without it the quiet-time rewrites are off")
	fs.Var(&f.quietRate, "aof-quiet-rate", "quiet: the AOF grows no faster than this per second (an accepted and settled vote appends ~430 bytes; 64KiB is ~150 votes/s)")
	fs.DurationVar(&f.Policy.Window, "aof-quiet-window", def.Window, "how long the intake must have been quiet before a rewrite, more than 0")
	fs.Var(&f.minGrowth, "aof-min-growth", "least incremental part of the AOF (appended since the last rewrite) worth a quiet-time rewrite")
	fs.IntVar(&f.Policy.GrowthPercent, "aof-growth-percent", def.GrowthPercent, "least incremental part worth a quiet-time rewrite, in percent of the AOF's base, at least 0")
	fs.DurationVar(&f.Interval, "aof-poll", DefaultInterval, "how often each Redis server's INFO persistence is read, more than 0")
	fs.DurationVar(&f.Policy.RetryWait, "aof-retry-wait", def.RetryWait, "after a failed AOF rewrite on a server (e.g. a full disk), how long its quiet-time rewrites wait; doubled for each further failure in a row, up to --aof-retry-max; 0: no wait")
	fs.DurationVar(&f.Policy.MaxRetryWait, "aof-retry-max", def.MaxRetryWait, "the longest wait after failed AOF rewrites")
	return f
}

// Check refuses flags out of range, each a usage error naming the flag, its
// value and its bound (internal/cli's checks), all reported at once: an
// --aof-quiet-window or --aof-poll of 0 or less, a negative
// --aof-growth-percent, an --aof-retry-wait below 0 or above --aof-retry-max.
// A command calls it with its other flag checks, before it connects to
// anything; Start checks the same.
func (f *Flags) Check() error {
	var retry error
	if p := f.Policy; p.RetryWait < 0 || p.MaxRetryWait < p.RetryWait {
		retry = cli.Usagef("--aof-retry-wait %s and --aof-retry-max %s: want 0 <= wait <= max", p.RetryWait, p.MaxRetryWait)
	}
	return errors.Join(cli.DurationsPositive(f.fs, "aof-quiet-window", "aof-poll"), cli.IntsIn(f.fs, 0, cli.Unbounded, "aof-growth-percent"), retry)
}

// Start checks the flags (Check) and starts a Rewriter on the servers of e,
// connected as redisserver.UserAOF, in a goroutine that ends with ctx. It
// starts nothing when the rewrites are off, nor, after a warning, when the
// password file cannot be read (a system whose ACL predates the user): the
// host process goes on, with Redis's own auto-rewrite alone. It fails only
// for flags Check refuses.
func (f *Flags) Start(ctx context.Context, e redisserver.Endpoint, log *slog.Logger, reg prometheus.Registerer) error {
	if err := f.Check(); err != nil {
		return err
	}
	p := f.Policy
	p.QuietRate, p.MinGrowth = float64(f.quietRate), int64(f.minGrowth)
	if !f.Enabled {
		log.Info("AOF rewrite policy off (--aof-rewrite=false): Redis's auto-rewrite alone")
		return nil
	}
	b, err := os.ReadFile(f.PasswordFile)
	if err != nil {
		log.Warn("AOF rewrite policy off: no password for Redis user "+redisserver.UserAOF+" (`make up` writes it; a Redis started before loads it on restart or ACL LOAD; or set --aof-password-file)", "err", err)
		return nil
	}
	rdb := redisserver.NewClient(e.Options(redisserver.UserAOF, strings.TrimSpace(string(b))))
	r := New(rdb, WithPolicy(p), WithInterval(f.Interval), WithLogger(log), WithRegisterer(reg))
	go func() {
		defer rdb.Close()
		r.Run(ctx)
	}()
	return nil
}

// Bytes is a size in bytes as a flag: a number with an optional unit, B,
// KiB, MiB, GiB (powers of 1024) or KB, MB, GB (of 1000).
type Bytes int64

var units = []struct {
	suffix string
	n      int64
}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}

// Set parses s.
func (b *Bytes) Set(s string) error {
	s = strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = strings.TrimSpace(num), u.n
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return errors.New("want a size such as 65536, 64KiB or 64MiB")
	}
	*b = Bytes(n * mult)
	return nil
}

// String formats b in the largest binary unit that divides it.
func (b Bytes) String() string {
	for i := 2; i >= 0; i-- { // GiB, MiB, KiB
		if u := units[i]; b != 0 && int64(b)%u.n == 0 {
			return strconv.FormatInt(int64(b)/u.n, 10) + u.suffix
		}
	}
	return strconv.FormatInt(int64(b), 10)
}

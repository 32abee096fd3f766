// Package explorer is the auditors' block explorer of the Votechain ledger.
// It connects to a peer with an Observers identity, follows the channel's
// blocks from block 0 with a persisted checkpoint, verifies every block and
// batch as it indexes them, and serves a web UI and JSON API over the index.
//
// The parts, each owning one thing (blocks are decoded by the pure
// network/fabricblock, shared with the Fabric client):
//
//	audit    verifies hash chain and batches, recounts votes (pure)
//	proof    checks receipts and lays out Merkle paths (pure)
//	index    the SQLite store
//	follow   streams blocks into the index
//	logmonitor  checks the intake logs against the ledger (omissions)
//	web      HTML pages and JSON API
//
// This package wires them together for cmd/explorer and the tests.
package explorer

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"github.com/votechain/votechain/config"
	"github.com/votechain/votechain/explorer/audit"
	"github.com/votechain/votechain/explorer/follow"
	"github.com/votechain/votechain/explorer/index"
	"github.com/votechain/votechain/explorer/logmonitor"
	"github.com/votechain/votechain/explorer/web"
	"github.com/votechain/votechain/internal/monitor"
	"github.com/votechain/votechain/network"
	"github.com/votechain/votechain/network/fabricclient"
)

// Config configures an explorer.
type Config struct {
	Profile  network.Profile
	Org      string // organisation whose identity (and, Peer empty, whose peer) to use: "Observers"
	User     string // enrolled user of Org (default "User1")
	Peer     string // organisation whose peer to read through, as Org's User still (fabricclient.WithPeer); empty: Org's
	DB       string // index database file
	PageSize int    // rows per page (default 25)
	// Prometheus is the base URL of the system's Prometheus, for the
	// operator page (/ops); empty: the page says monitoring is not set up.
	Prometheus string
	// Gateway is the base URL of a gateway whose intake logs the explorer
	// monitors (the intake log page, /intake-log) every LogRefresh
	// (default 15 s), with LogDeadline (default 5 min) for a vote to reach
	// the ledger before it is MISSING; empty: the page says the logs are
	// not monitored.
	Gateway                 string
	LogRefresh, LogDeadline time.Duration
	// LogPendingListed bounds the pending entries the page lists per
	// state (logmonitor.Monitor.PendingListed; 0: all).
	LogPendingListed int
	// CommitDelay is the follower's (follow.Follower.CommitDelay): how
	// long an index write stays open for the blocks that follow.
	CommitDelay time.Duration
	Log         *slog.Logger // required
	// ShutdownTimeout bounds the wait for requests in flight on shutdown
	// (default 10 s).
	ShutdownTimeout time.Duration
	// Genesis, if set, is the header hash of the channel's genesis block
	// as published: the ledger's block 0 must hash to it (audit.Auditor's
	// Genesis).
	Genesis []byte
	// ReadyBehind is how many blocks below the peer's height the index may
	// be while /readyz answers 200 (web.Config.ReadyBehind; 0: 300).
	ReadyBehind uint64
}

// Explorer is a running explorer: its peer connection, index, follower and
// web server.
type Explorer struct {
	cfg      Config
	lock     *IndexLock // the index's lock (LockIndex); nil in Reindex's, which Reindex holds
	conn     *fabricclient.Conn
	idx      *index.Index
	follower *follow.Follower
	handler  *web.Server
	logs     *web.IntakeLog // nil without a gateway
}

// Open locks the index (LockIndex: refused, ErrIndexInUse, while another
// explorer holds it), connects to the peer and opens (or creates) the index
// (OpenIndex, with cfg.Genesis); it starts nothing. ctx bounds the opening
// of the index (index.Open: after a kill, a read of every batch saved since
// its last flush) and its reads then. The lock is held until Close.
func Open(ctx context.Context, cfg Config) (*Explorer, error) {
	lock, err := LockIndex(cfg.DB)
	if err != nil {
		return nil, err
	}
	e, err := open(ctx, cfg)
	if err != nil {
		lock.Close()
		return nil, err
	}
	e.lock = lock
	return e, nil
}

// open is Open without the lock, which its caller holds.
func open(ctx context.Context, cfg Config) (*Explorer, error) {
	if cfg.User == "" {
		cfg.User = "User1"
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 10 * time.Second
	}
	opts := []fabricclient.Option{fabricclient.WithUser(cfg.User)}
	if cfg.Peer != "" {
		opts = append(opts, fabricclient.WithPeer(cfg.Peer))
	}
	// Dial reads the identity and TLS files; its gRPC connection is made at
	// the first call, under that call's context.
	conn, err := fabricclient.Dial(ctx, cfg.Profile, cfg.Org, opts...)
	if err != nil {
		return nil, fmt.Errorf("explorer: %w", err)
	}
	idx, err := OpenIndex(ctx, cfg.DB, cfg.Genesis, index.WithLogger(cfg.Log))
	if err != nil {
		conn.Close()
		return nil, err
	}
	e := &Explorer{cfg: cfg, conn: conn, idx: idx}
	if err := e.wire(ctx); err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

// ErrIndexInUse is LockIndex's error while another explorer holds the
// index.
var ErrIndexInUse = errors.New("the index is in use by another explorer")

// IndexLock is the index's lock that LockIndex takes, held until Close or
// the process's end.
type IndexLock struct{ f *os.File }

// Close releases the lock, first clearing the holder's process id that
// LockIndex wrote in the lock file: the id is there only while its process
// holds the lock (or after it was killed holding it), so a refused
// LockIndex in the moment before the next holder writes its own id never
// names this process, which may still be running, as the holder.
func (l *IndexLock) Close() error {
	return errors.Join(l.f.Truncate(0), l.f.Close())
}

// LockIndex takes the index database at path for this process: an
// exclusive flock on path+".lock" (created beside it, left there), which
// the returned lock holds until it is closed or the process ends. Every
// explorer that writes the index holds it (Open, Reindex): while one does,
// LockIndex fails with ErrIndexInUse, naming the holder's process id and
// the fix, to stop that explorer first. Nothing else opens the index: the
// web pages and API read it in the explorer that holds it. Holding the
// lock, it finishes or undoes a replacement of the index that a crash
// interrupted (recoverReplace), so the index at path is whole again.
func LockIndex(path string) (*IndexLock, error) {
	name := path + ".lock"
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("explorer: lock index: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("explorer: index %s: %w (%s holds %s): stop that explorer first, serving or reindexing, then run this again",
				path, ErrIndexInUse, lockHolder(f), name)
		}
		return nil, fmt.Errorf("explorer: lock index %s: %w", name, err)
	}
	// The holder's process id, for lockHolder: written over what the
	// earlier holder left (nothing, if it closed its lock; its id, if it was
	// killed) in one write, then the file cut to it, so a reader never
	// finds it empty once written, only one complete id line or the other.
	id := []byte(fmt.Sprintln(os.Getpid()))
	if _, err := f.WriteAt(id, 0); err == nil {
		f.Truncate(int64(len(id)))
	}
	lock := &IndexLock{f}
	if err := recoverReplace(path); err != nil {
		lock.Close()
		return nil, fmt.Errorf("explorer: index %s: finish an interrupted reindex: %w", path, err)
	}
	return lock, nil
}

// lockHolderWait bounds how long lockHolder waits for the holder of a
// lock to write its process id.
const lockHolderWait = 500 * time.Millisecond

// lockHolder names the process that holds the lock file f, as "process
// ID" from the id line LockIndex writes. A holder that has just taken the
// lock may not have written its id yet: the file is then empty (new, or
// cleared by the earlier holder's IndexLock.Close) or holds the line of an
// earlier holder killed holding the lock, whose process has ended.
// lockHolder reads again, every 10 ms for up to lockHolderWait, until the
// first line is the id of a running process; failing that, "another
// process". In that moment it can name a wrong holder only after a
// holder was killed and another process has taken its process id since.
func lockHolder(f *os.File) string {
	for deadline := time.Now().Add(lockHolderWait); ; time.Sleep(10 * time.Millisecond) {
		buf := make([]byte, 32)
		n, _ := f.ReadAt(buf, 0)
		line, _, complete := strings.Cut(string(buf[:n]), "\n")
		pid, err := strconv.Atoi(line)
		if complete && err == nil && pid > 0 && !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
			return "process " + line
		}
		if time.Now().After(deadline) {
			return "another process"
		}
	}
}

// OpenIndex opens (or creates) the index at path, whose block 0 must match
// genesis (the pin, Config.Genesis; nil: none). The audit compares block 0
// with the pin only when it indexes it, so an index holding block 0 is
// refused, the index closed, unless block 0 hashes to genesis or the index
// already records block 0's genesis failure against this very pin (the
// audit page shows it): a pin added or changed since the index was built
// is not taken on trust. The error names the fixes: the pin the index was
// built with, or `explorer reindex`, which audits block 0 against the pin.
// A refused index is closed without writing its pending vote keys
// (index.Index.CloseWithoutFlush).
// ctx bounds index.Open and the pin's check; opts configure index.Open.
// It takes no lock: Open and Reindex do.
func OpenIndex(ctx context.Context, path string, genesis []byte, opts ...index.Option) (*index.Index, error) {
	idx, err := index.Open(ctx, path, opts...)
	if err != nil {
		return nil, fmt.Errorf("explorer: %w", err)
	}
	if err := checkGenesisPin(ctx, idx, genesis); err != nil {
		// Not Close: its flush (not cancellable) would write the pending
		// keys just read back, after a cancel (Ctrl-C) too; the next Open
		// reads them back again.
		idx.CloseWithoutFlush()
		return nil, fmt.Errorf("explorer: index %s: %w", path, err)
	}
	return idx, nil
}

// checkGenesisPin returns an error unless idx lacks block 0, block 0
// hashes to genesis (nil: no pin), or idx records block 0's genesis
// failure against genesis.
func checkGenesisPin(ctx context.Context, idx *index.Index, genesis []byte) error {
	if genesis == nil {
		return nil
	}
	b, err := idx.Block(ctx, 0)
	if errors.Is(err, index.ErrNotFound) {
		return nil // the audit checks block 0 against the pin as it indexes it
	}
	if err != nil {
		return fmt.Errorf("read block 0: %w", err)
	}
	pin := hex.EncodeToString(genesis)
	if b.Hash == pin {
		return nil
	}
	issues, err := idx.BlockIssues(ctx, 0)
	if err != nil {
		return fmt.Errorf("read block 0's issues: %w", err)
	}
	for _, is := range issues {
		if is.Kind == audit.KindGenesis && strings.Contains(is.Message, pin) {
			return nil
		}
	}
	return fmt.Errorf("its block 0 hashes to %s, not to the pinned genesis block's %s (--genesis-block, --genesis-hash), and the index was not audited against this pin (block 0 is compared with the pin when it is indexed): give the pin the index was built with, or rebuild the index against this pin with `explorer reindex`, which flags block 0 (genesis) if the ledger's is not the pinned one",
		b.Hash, pin)
}

// wire builds the follower and the web server with their metrics, reading
// the index's checkpoint and issue counts under ctx.
func (e *Explorer) wire(ctx context.Context) error {
	next, _, err := e.idx.Checkpoint(ctx)
	if err != nil {
		return err
	}
	issues, err := e.idx.IssueCounts(ctx)
	if err != nil {
		return fmt.Errorf("explorer: count issues: %w", err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	e.follower = &follow.Follower{
		Source:      follow.NetworkSource{Network: e.conn.Network},
		Store:       e.idx,
		Auditor:     audit.Auditor{Chaincode: e.cfg.Profile.Chaincode, Identities: &audit.IdentityCache{}, Genesis: e.cfg.Genesis},
		Log:         e.cfg.Log,
		Metrics:     follow.NewMetrics(reg, next, issues),
		CommitDelay: e.cfg.CommitDelay,
	}
	panels, err := monitor.Panels(config.Dashboard())
	if err != nil {
		return err
	}
	wc := web.Config{Index: e.idx, Ledger: e.conn.Ballot(), Log: e.cfg.Log, Gatherer: reg, PageSize: e.cfg.PageSize,
		PrometheusURL: e.cfg.Prometheus, Panels: panels, Genesis: e.cfg.Genesis, ReadyBehind: e.cfg.ReadyBehind}
	if e.cfg.Prometheus != "" {
		wc.Monitoring = monitor.NewClient(e.cfg.Prometheus)
	}
	if e.cfg.Gateway != "" {
		deadline := e.cfg.LogDeadline
		if deadline <= 0 {
			deadline = 5 * time.Minute
		}
		gw := logmonitor.Gateway{Base: e.cfg.Gateway}
		mon := &logmonitor.Monitor{Log: gw, Ledger: e.conn.Ballot(), Deadline: deadline, PendingListed: e.cfg.LogPendingListed}
		e.logs = &web.IntakeLog{Every: e.cfg.LogRefresh, Deadline: deadline, Log: e.cfg.Log, Proofs: gw, Monitor: mon}
		// The monitor places the votes of the batches the follower decoded
		// rather than reading their transactions back from the ledger.
		e.follower.OnCommitted = func(r audit.Report) {
			for _, b := range r.Batches {
				if b.First() && b.Leaves != nil {
					mon.Committed(b.Batch.State, b.Batch.Seq, b.TxID, b.Batch.Votes, b.Leaves)
				}
			}
		}
		wc.IntakeLog = e.logs
	}
	e.handler, err = web.New(wc)
	return err
}

// Handler returns the web UI and API handler.
func (e *Explorer) Handler() http.Handler { return e.handler }

// Index returns the explorer's index.
func (e *Explorer) Index() *index.Index { return e.idx }

// Serve follows the chain and serves HTTP on l until ctx ends, then shuts
// the server down gracefully. It fails if the follower or server does.
func (e *Explorer) Serve(ctx context.Context, l net.Listener) error {
	srv := &http.Server{Handler: e.handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, ErrorLog: slog.NewLogLogger(e.cfg.Log.Handler(), slog.LevelWarn)}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return e.follower.Run(ctx) })
	if e.logs != nil {
		g.Go(func() error { return e.logs.Run(ctx) })
	}
	g.Go(func() error {
		if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve http: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-ctx.Done()
		// ctx has ended: the shutdown keeps its values, not its end.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.cfg.ShutdownTimeout)
		defer cancel()
		return srv.Shutdown(sctx)
	})
	return g.Wait()
}

// CatchUp indexes every block the ledger holds now, calling progress after
// each block with the blocks indexed and the height to reach.
func (e *Explorer) CatchUp(ctx context.Context, progress func(indexed, height uint64)) error {
	height, err := e.conn.Ballot().Height(ctx)
	if err != nil {
		return fmt.Errorf("explorer: ledger height: %w", err)
	}
	f := *e.follower
	f.OnCommitted = nil // no monitor runs during a reindex to take the batches
	f.OnSaved = func(n uint64) {
		if progress != nil {
			progress(n, height)
		}
	}
	return f.Until(ctx, height)
}

// Close closes the index and the peer connection, then releases the
// index's lock.
func (e *Explorer) Close() error {
	err := errors.Join(e.idx.Close(), e.conn.Close())
	if e.lock != nil {
		err = errors.Join(err, e.lock.Close())
	}
	return err
}

// Reindex rebuilds the index at cfg.DB from the ledger, as cfg's explorer
// reads it, to the ledger's height now (CatchUp, calling progress), and
// returns the new index's totals. It holds the index's lock throughout
// (LockIndex: refused, ErrIndexInUse, while an explorer serves the index)
// and builds the new index beside the old one, at cfg.DB+".new" (one a
// failed reindex left there is deleted first), putting it in the old one's
// place only once complete (replaceIndex): a reindex that fails, the ledger
// unreachable or the run interrupted, deletes its new index and leaves the
// old one as it was.
func Reindex(ctx context.Context, cfg Config, progress func(indexed, height uint64)) (index.Totals, error) {
	lock, err := LockIndex(cfg.DB)
	if err != nil {
		return index.Totals{}, err
	}
	defer lock.Close()
	fresh := cfg.DB + ".new"
	if err := removeIndex(fresh); err != nil {
		return index.Totals{}, fmt.Errorf("explorer: delete the index an earlier reindex left: %w", err)
	}
	totals, err := build(ctx, cfg, fresh, progress)
	if err != nil {
		return index.Totals{}, errors.Join(err, removeIndex(fresh))
	}
	return totals, replaceIndex(fresh, cfg.DB)
}

// build indexes cfg's ledger to its height now into a new index at path
// and closes it, returning its totals.
func build(ctx context.Context, cfg Config, path string, progress func(indexed, height uint64)) (index.Totals, error) {
	cfg.DB = path
	e, err := open(ctx, cfg)
	if err != nil {
		return index.Totals{}, err
	}
	err = e.CatchUp(ctx, progress)
	var totals index.Totals
	if err == nil {
		totals, err = e.idx.Totals(ctx)
	}
	return totals, errors.Join(err, e.Close())
}

// replaceIndex puts the closed index database at fresh in the place of
// the one at path, whose lock the caller holds (so no process has it open).
// A fresh database that still has a WAL file (SQLite deletes it when the
// last connection closes cleanly) is refused, both left in place: renamed
// without it, the new index would lose its last writes.
//
// The old database is moved aside to path+asideSuffix with its WAL files (a
// killed explorer leaves them, holding committed writes; renamed with it,
// they still pair with it and are never replayed onto the new one), fresh
// is renamed to path, the folder synced after each step, and only then is
// the old one deleted. A rename that fails moves the old one back; a crash
// part way leaves the files for recoverReplace, which the next LockIndex
// runs. Moving aside needs nothing of the old database, unlike
// checkpointing it by opening it, which an index too damaged or too new to
// open (a reason to reindex) would refuse.
func replaceIndex(fresh, path string) error {
	switch _, err := os.Stat(fresh + "-wal"); {
	case err == nil:
		return fmt.Errorf("explorer: the rebuilt index %s kept its write-ahead log, so it was not put in the place of %s: reindex again", fresh, path)
	case !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("explorer: replace the index: %w", err)
	}
	if err := removeFiles(fresh + "-shm"); err != nil {
		return fmt.Errorf("explorer: replace the index: %w", err)
	}
	old := path + asideSuffix
	// A WAL without its database (the database deleted by hand) has nothing
	// to keep, and moved aside it would pass for an interrupted move's and
	// be paired with the new index by recoverReplace: deleted instead.
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		if err := removeFiles(path+"-wal", path+"-shm"); err != nil {
			return fmt.Errorf("explorer: replace the index: %w", err)
		}
	}
	if _, err := moveIndex(path, old); err != nil {
		return fmt.Errorf("explorer: replace the index: move the old one aside: %w", errors.Join(err, restoreIndex(old, path)))
	}
	// Durable before the new one takes the name: else a crash could keep
	// the new one at path with the old one's WAL still beside it.
	if err := syncDir(path); err != nil {
		return fmt.Errorf("explorer: replace the index: %w", errors.Join(err, restoreIndex(old, path)))
	}
	if err := os.Rename(fresh, path); err != nil {
		return fmt.Errorf("explorer: replace the index: %w", errors.Join(err, restoreIndex(old, path)))
	}
	// The new index is in place: what fails now is only the clean-up, which
	// the next LockIndex finishes (recoverReplace).
	if err := errors.Join(syncDir(path), removeIndex(old)); err != nil {
		return fmt.Errorf("explorer: the new index is in place at %s, but deleting the old one (%s) failed; the next explorer start or reindex deletes it: %w", path, old, err)
	}
	return nil
}

// asideSuffix names the old index while replaceIndex swaps in the new one:
// a name no operator would give a backup of their own (index.db.old might
// be one), which recoverReplace deletes or moves back.
const asideSuffix = ".reindex-aside"

// recoverReplace finishes a replaceIndex of the index at path that a crash
// interrupted, by the files it left. The old database renamed aside with
// the new one in place: the replacement is complete, the old one deleted.
// The old database or one of its WAL files aside without the new one in
// place: the replacement is undone, the old one moved back. Neither (no
// replacement interrupted): nothing is done.
func recoverReplace(path string) error {
	old := path + asideSuffix
	_, errOld := os.Stat(old)
	_, errPath := os.Stat(path)
	if errOld == nil && errPath == nil {
		return removeIndex(old)
	}
	return restoreIndex(old, path)
}

// restoreIndex moves the index files at old that moveIndex put there back
// to path, syncing the folder if it moved any.
func restoreIndex(old, path string) error {
	moved, err := moveIndex(old, path)
	if err != nil || !moved {
		return err
	}
	return syncDir(path)
}

// moveIndex renames the index database at from with its WAL files to to:
// the WAL files first, the database last, so that while a database is at
// from, any WAL files at to are its own (recoverReplace relies on it). It
// reports whether it renamed any; files missing are skipped.
func moveIndex(from, to string) (moved bool, err error) {
	for _, suffix := range []string{"-wal", "-shm", ""} {
		switch err := os.Rename(from+suffix, to+suffix); {
		case err == nil:
			moved = true
		case !errors.Is(err, os.ErrNotExist):
			return moved, err
		}
	}
	return moved, nil
}

// syncDir flushes the folder holding path, making renames in it durable.
func syncDir(path string) error {
	dir, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	return errors.Join(dir.Sync(), dir.Close())
}

// removeIndex deletes the index database at path with its WAL files, the
// database last (see moveIndex). A missing database is not an error.
func removeIndex(path string) error {
	return removeFiles(path+"-wal", path+"-shm", path)
}

// removeFiles deletes the files named in order, those missing skipped,
// and stops at the first it cannot delete: removeIndex's database is never
// deleted while its WAL stays (recoverReplace would take a WAL aside
// without its database for a move cut short, and pair it with the index).
func removeFiles(names ...string) error {
	for _, p := range names {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

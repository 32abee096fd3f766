package explorer_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/votechain/votechain/explorer"
	"github.com/votechain/votechain/explorer/audit"
	"github.com/votechain/votechain/explorer/index"
	"github.com/votechain/votechain/network"
	"github.com/votechain/votechain/network/fabricblock"
)

// unreachableConfig is the configuration of an explorer of the index at
// db reading, as Observers User1, through a peer nothing listens on: it
// opens (the peer is dialled at the first call), and every read of the
// ledger fails at once.
func unreachableConfig(t *testing.T, db string) explorer.Config {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: big.NewInt(7)}, &x509.Certificate{SerialNumber: big.NewInt(7)}, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	key, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := errors.Join(
		os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600),
		os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key}), 0o600),
	); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	profile := network.Profile{Channel: "election", Chaincode: "ballot", Orgs: map[string]network.OrgProfile{"Observers": {
		MSPID: "ObserversMSP",
		Peer:  network.Endpoint{Address: addr, TLSRootPEM: certFile, ServerName: "peer0.observers"},
		Users: map[string]network.Identity{"User1": {Cert: certFile, Key: keyFile}},
	}}}
	return explorer.Config{Profile: profile, Org: "Observers", DB: db, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

// TestIndexLockedWhileOpen: while an explorer has the index open, a second
// explorer on it and a reindex of it are refused (ErrIndexInUse), naming
// the holding process and the fix, stop that explorer first, and the
// reindex leaves the index alone; once the first explorer is closed, the
// index opens again.
func TestIndexLockedWhileOpen(t *testing.T) {
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "index.db")
	cfg := unreachableConfig(t, db)
	first, err := explorer.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	refused := func(what string, err error) {
		t.Helper()
		holder := fmt.Sprintf("process %d holds %s.lock", os.Getpid(), db)
		if !errors.Is(err, explorer.ErrIndexInUse) || !strings.Contains(err.Error(), holder) || !strings.Contains(err.Error(), "stop that explorer first") {
			t.Errorf("%s while an explorer has the index open: %v; want ErrIndexInUse saying %q and to stop that explorer first", what, err, holder)
		}
	}
	second, err := explorer.Open(ctx, cfg)
	if err == nil {
		second.Close()
	}
	refused("a second explorer", err)
	_, err = explorer.Reindex(ctx, cfg, nil)
	refused("a reindex", err)
	if _, err := os.Stat(db); err != nil {
		t.Errorf("the refused reindex deleted the index: %v", err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := explorer.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("the index once its explorer closed: %v", err)
	}
	again.Close()
}

// TestFailedReindexKeepsTheOldIndex: a reindex whose ledger cannot be
// reached fails, naming the peer, and leaves the old index whole (its
// block still there) and no new index beside it.
func TestFailedReindexKeepsTheOldIndex(t *testing.T) {
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "index.db")
	block0 := sha256.Sum256([]byte("block 0"))
	saveBlock0(t, db, block0[:], nil)
	cfg := unreachableConfig(t, db)
	if _, err := explorer.Reindex(ctx, cfg, nil); err == nil || !strings.Contains(err.Error(), "is not reachable") {
		t.Fatalf("reindex from an unreachable peer: %v; want the peer named as not reachable", err)
	}
	idx, err := index.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer idx.Close()
	if tot, err := idx.Totals(ctx); err != nil || tot.Blocks != 1 {
		t.Errorf("the index after a failed reindex holds %d blocks (%v); want the old index's 1", tot.Blocks, err)
	}
	if _, err := os.Stat(db + ".new"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the failed reindex left its new index: %v", err)
	}
}

// saveBlock0 creates the index at path holding block 0 of header hash
// hash, audited against the genesis pin (nil: none).
func saveBlock0(t *testing.T, path string, hash, pin []byte) {
	t.Helper()
	idx, err := index.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	b := fabricblock.Block{Number: 0, Hash: hash, DataHashOK: true}
	r, err := audit.Auditor{Chaincode: "ballot", SkipSignatures: true, Genesis: pin}.Block(t.Context(), nil, b, idx)
	if err == nil {
		err = idx.Save(context.Background(), r)
	}
	if err = errors.Join(err, idx.Close()); err != nil {
		t.Fatal(err)
	}
}

// TestOpenTakesTheContext: Open reads the index under its context, so an
// ended one fails it, and the failed Open leaves the index unlocked.
func TestOpenTakesTheContext(t *testing.T) {
	cfg := unreachableConfig(t, filepath.Join(t.TempDir(), "index.db"))
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	if e, err := explorer.Open(ended, cfg); !errors.Is(err, context.Canceled) {
		if err == nil {
			e.Close()
		}
		t.Fatalf("Open under an ended context: %v; want context.Canceled", err)
	}
	e, err := explorer.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Open after a failed Open: %v", err)
	}
	e.Close()
}

// TestLockNamesTheHolderOnceWritten: a refused LockIndex names the holder
// by the process id it writes in the lock file after taking the lock, so
// it waits for it: a holder that writes its id 50 ms late, over the id of
// an earlier holder no longer running, is named by its own id; one that
// never writes an id, its lock file empty, is "another process", never an
// empty id.
func TestLockNamesTheHolderOnceWritten(t *testing.T) {
	db := filepath.Join(t.TempDir(), "index.db")
	holder := holdLock(t, db)
	if _, err := explorer.LockIndex(db); err == nil || !strings.Contains(err.Error(), "(another process holds") {
		t.Errorf("lock held by a process that wrote no id: %v; want another process named as the holder", err)
	}

	ended := exec.Command("true")
	if err := ended.Run(); err != nil {
		t.Fatal(err)
	}
	if _, err := holder.WriteAt([]byte(fmt.Sprintln(ended.Process.Pid)), 0); err != nil {
		t.Fatal(err)
	}
	written := make(chan error, 1)
	go func() {
		time.Sleep(50 * time.Millisecond)
		_, err := holder.WriteAt([]byte(fmt.Sprintln(os.Getpid())), 0)
		written <- err
	}()
	_, err := explorer.LockIndex(db)
	if err := <-written; err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("(process %d holds", os.Getpid()); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("lock held by a process that wrote its id late: %v; want %q", err, want)
	}
}

// TestLockNamesNoReleasedHolder: a lock released (closed) by a process
// that goes on running clears its id from the lock file, so a refused
// LockIndex in the moment before the next holder writes its own id does
// not name the released one: a holder that took the lock after this
// process closed its own, and writes no id, is "another process", not
// this one.
func TestLockNamesNoReleasedHolder(t *testing.T) {
	db := filepath.Join(t.TempDir(), "index.db")
	released, err := explorer.LockIndex(db)
	if err != nil {
		t.Fatal(err)
	}
	if err := released.Close(); err != nil {
		t.Fatal(err)
	}
	holdLock(t, db)
	if _, err := explorer.LockIndex(db); err == nil || !strings.Contains(err.Error(), "(another process holds") {
		t.Errorf("lock held by a process that wrote no id yet, after this process released it: %v; want another process named as the holder, not process %d", err, os.Getpid())
	}
}

// holdLock takes the lock of the index at db as a holder that has not
// written its id yet, until the test ends, and returns its lock file.
func holdLock(t *testing.T, db string) *os.File {
	t.Helper()
	f, err := os.OpenFile(db+".lock", os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	return f
}

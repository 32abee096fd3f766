package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/gateway/election"
	"github.com/votechain/votechain/internal/cli"
	"github.com/votechain/votechain/internal/cli/clitest"
	"github.com/votechain/votechain/internal/importcheck"
	"github.com/votechain/votechain/internal/rundir/rundirtest"
	"github.com/votechain/votechain/test-network/nettest"
)

// TestLogKeyPrintsThePublicHalf: the key file is created once, private,
// and the printed key is its public half each time.
func TestLogKeyPrintsThePublicHalf(t *testing.T) {
	file := filepath.Join(t.TempDir(), "keys", "gateway.key")
	var first, again bytes.Buffer
	for _, out := range []*bytes.Buffer{&first, &again} {
		if err := run(context.Background(), []string{"log-key", "-o", file}, out, io.Discard); err != nil {
			t.Fatal(err)
		}
	}
	if st, err := os.Stat(file); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v; want mode 600", st, err)
	}
	pub, err := hex.DecodeString(strings.TrimSpace(first.String()))
	if err != nil || len(pub) != 32 || first.String() != again.String() {
		t.Fatalf("printed %q then %q; want the same 64 hex characters", first.String(), again.String())
	}
	keys, err := logKeys("", file)
	if err != nil || len(keys) != 1 || !bytes.Equal(keys[0], pub) {
		t.Fatalf("the file's public half %x, %v; printed %x", keys, err, pub)
	}
	if _, err := logKeys("abcd", ""); err == nil || !strings.Contains(err.Error(), "not an Ed25519 public key") {
		t.Errorf("a short key: %v, want refused with the fix", err)
	}
	missing := filepath.Join(t.TempDir(), "gateway.key")
	if _, err := logKeys("", missing); err == nil || !strings.Contains(err.Error(), missing+": no such file or directory (\"roll log-key -o FILE\" creates a key file") {
		t.Errorf("a key file that is not there: %v; want it named with how to create one", err)
	}
}

// TestPublishNeedsALogKey: without an intake log key publish registers
// none, so it refuses before it reads the secret or dials the ledger,
// naming the flags that give one.
func TestPublishNeedsALogKey(t *testing.T) {
	dir := t.TempDir()
	err := run(context.Background(), []string{"publish", "-csv", filepath.Join(dir, "voters.csv"), "-election", "election.json",
		"-profile", filepath.Join(dir, "no-such-profile.json")}, io.Discard, io.Discard)
	if !errors.Is(err, cli.ErrUsage) || !strings.Contains(err.Error(), "-log-public-key") || !strings.Contains(err.Error(), "-log-key") {
		t.Fatalf("publish without a key: %v; want a usage error naming -log-public-key and -log-key", err)
	}
}

// TestPublishRefusesSettingsItCannotUse: a -window under
// electionsetup.MinWindow (votechain up's bound) is a usage error naming
// the flag, before the secret, the ledger or the roll (a file that is not
// there) is read; it was told only after the whole roll was derived,
// without its flag, and a window under 1 s was taken.
func TestPublishRefusesSettingsItCannotUse(t *testing.T) {
	dir := t.TempDir()
	template := filepath.Join(nettest.RepoRoot(t), "config", "election.json")
	clitest.UsageErrors(t, runRoll, []string{"roll", "publish", "-csv", filepath.Join(dir, "missing.csv"), "-election", template,
		"-log-public-key", strings.Repeat("ab", 32), "-profile", filepath.Join(dir, "no-such-profile.json")}, []clitest.UsageCase{
		{Args: []string{"-window", "500ms"}, Want: "publish: -window is 500ms: a new election's voting window must be at least 1s"},
		{Args: []string{"-window", "0s"}, Want: "publish: -window is 0s: a new election's voting window must be at least 1s"},
	})
}

// TestPublishRecordToSetUp: the record publish sets up is the ledger's,
// with or without the template it was set up from, else the template's,
// and a -batcher-identity its batchers do not list is a usage error with
// the fix that works there. For a new election that is adding it to the
// template's "batchers"; for one on the ledger, whose batchers cannot
// change, it is running the batchers as one of them or a new ledger: it
// said "add it to batchers" (which the ledger's record then refused) when
// -election named it, and "on the ledger" twice without.
func TestPublishRecordToSetUp(t *testing.T) {
	const path = "election.json"
	tmpl := ballot.Election{ID: "general-2026", Name: "General", States: []string{"CA"}, Batchers: []string{"batcher1", "batcher2"}}
	onLedger := tmpl
	onLedger.RollRoot = "root"
	ledgerRefusal := `publish: -batcher-identity: election general-2026 on the ledger names the batchers ["batcher1" "batcher2"], not the batcher processes' identity "gateway1", so their batches would be refused, and its batchers cannot change: ` + publishBatcherRemedy()
	for _, c := range []struct {
		name, path, identity string
		existing             *ballot.Election
		want                 string // the record's roll root, or the error
	}{
		{"a new election", path, "batcher2", nil, ""},
		{"the election on the ledger, by its template", path, "batcher1", &onLedger, "root"},
		{"the election on the ledger, without a template", "", "batcher1", &onLedger, "root"},
		{"no election anywhere", "", "batcher1", nil, "publish: the ledger holds no election yet: give its template with -election"},
		{"a new election's template without the identity", path, "gateway1", nil,
			`publish: -batcher-identity: -election election.json: "batchers" ["batcher1" "batcher2"] does not name the batcher processes' identity "gateway1", so their batches would be refused: add it to "batchers"`},
		{"the election on the ledger without the identity, by its template", path, "gateway1", &onLedger,
			ledgerRefusal},
		{"the election on the ledger without the identity, without a template", "", "gateway1", &onLedger,
			ledgerRefusal},
	} {
		t.Run(c.name, func(t *testing.T) {
			template := tmpl
			if c.path == "" {
				template = ballot.Election{}
			}
			e, err := recordToSetUp(c.existing, template, c.path, c.identity)
			if !strings.HasPrefix(c.want, "publish: ") {
				if err != nil || e.ID != tmpl.ID || e.RollRoot != c.want {
					t.Fatalf("%+v, %v; want election %s with roll root %q", e, err, tmpl.ID, c.want)
				}
				return
			}
			if !errors.Is(err, cli.ErrUsage) || !strings.HasPrefix(err.Error(), c.want) {
				t.Fatalf("%v; want a usage error beginning %q", err, c.want)
			}
			if c.existing != nil && (strings.Contains(err.Error(), "add it to") || strings.Count(err.Error(), "on the ledger") != 1) {
				t.Errorf("%v; want the ledger named once, without the template's advice", err)
			}
		})
	}
	other := tmpl
	other.Name = "Another"
	if _, err := recordToSetUp(&onLedger, other, path, "batcher1"); err == nil || !strings.Contains(err.Error(), `name "Another", the ledger's "General"`) {
		t.Errorf("another template: %v; want refused naming the difference", err)
	}
}

// TestPublishBatcherRemedyNamesTheFolders: publish's advice to wipe the
// ledger names each command with the folder it acts on, even from the
// project's folder, where make's targets act on .run: votechain's system
// by its folder (bin/votechain --dir RUNFOLDER, as make builds it), and
// on separate machines the wipe of the bundles' network (.run/deploy),
// new bundles and each host's --bundle-root, where the nodes' ledgers are.
// It named a bare "votechain down --wipe", which acts on .run, make's live
// election, is seldom on PATH, and left the hosts' ledgers as they were.
func TestPublishBatcherRemedyNamesTheFolders(t *testing.T) {
	rundirtest.Project(t)
	remedy := publishBatcherRemedy()
	for _, want := range []string{
		"`bin/votechain --dir RUNFOLDER down --wipe`",
		"`bin/vcnet --dir .run/deploy down --wipe`",
		"`bin/vcnet --dir .run/deploy bundles --hosts HOSTS --bundle-root ROOT`",
		"replace its --bundle-root, which holds the old ledgers, with its new bundle",
	} {
		if !strings.Contains(remedy, want) {
			t.Errorf("%q; want it to name %s", remedy, want)
		}
	}
	for _, wipe := range regexp.MustCompile("`[^`]*down --wipe`").FindAllString(remedy, -1) {
		if !strings.Contains(wipe, " --dir ") {
			t.Errorf("%q advises %s, which acts on make's system", remedy, wipe)
		}
	}
	if strings.Contains(remedy, "votechain down") || strings.Contains(remedy, "make ") {
		t.Errorf("%q; want neither a bare votechain down nor a make target", remedy)
	}
}

// TestAdviceLinksNoSystemPackages: roll writes its advice about votechain
// and vcnet with internal/rundir alone; it linked internal/stack and
// test-network/localnet (the system's and the network's runners, and,
// through stack, the monitors) for one advice string. explorer/logmonitor
// is not forbidden: internal/cli names its ErrNoAnswer, and it needs only
// ballot.
func TestAdviceLinksNoSystemPackages(t *testing.T) {
	importcheck.Check(t, ".", importcheck.Rule{
		Reaches:   []string{"internal/rundir"},
		Forbidden: []string{"internal/stack", "test-network/localnet", "internal/monitor"},
	})
}

// TestPublishNamesTheLinesOfAVoterListedTwice: publish's reading of the
// roll refuses a voter under two states naming the file and both lines.
func TestPublishNamesTheLinesOfAVoterListedTwice(t *testing.T) {
	path := filepath.Join(t.TempDir(), "voters.csv")
	if err := os.WriteFile(path, []byte("v1,c1,CA\nv2,c2,NY\nv1,c1,NY\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e := ballot.Election{ID: "E1", States: []string{"CA", "NY"}, Contests: []ballot.Contest{{ID: "C1"}}}
	_, err := readRoll(context.Background(), path, []byte(strings.Repeat("5a", 32)), e, io.Discard)
	want := "reading the roll " + path + ": lines 1 and 3: one voter listed under states CA and NY"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("readRoll: %v; want an error beginning %q", err, want)
	}
}

// TestPublishOnNetwork: on a real network, as the Commission admin through
// its connection profile, publish sets the election up from the template,
// bound to the roll's root, seals the roll and registers the key; again it
// changes nothing; with another roll it refuses.
func TestPublishOnNetwork(t *testing.T) {
	n := nettest.Start(t)
	dir := t.TempDir()
	csv, other := filepath.Join(dir, "voters.csv"), filepath.Join(dir, "other.csv")
	for _, f := range []string{csv, other} {
		if err := run(context.Background(), []string{"gen", "-n", "40", "-states", "CA,NY,TX", "-o", f}, io.Discard, io.Discard); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("VOTECHAIN_ELECTION_SECRET", strings.Repeat("5a", 32))
	template := filepath.Join(nettest.RepoRoot(t), "config", "election.json")
	var printed bytes.Buffer
	if err := run(context.Background(), []string{"log-key", "-o", filepath.Join(dir, "gateway.key")}, &printed, io.Discard); err != nil {
		t.Fatal(err)
	}
	var dry bytes.Buffer
	if err := run(context.Background(), []string{"load", "-dry-run", "-csv", csv, "-election", template}, &dry, io.Discard); err != nil {
		t.Fatal(err)
	}
	var want struct {
		Root    string `json:"roll_root"`
		Entries int    `json:"roll_entries"`
	}
	if err := json.Unmarshal(dry.Bytes(), &want); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var logged bytes.Buffer // the last publish's
	publish := func(csv, template string) (ballot.Election, error) {
		var out bytes.Buffer
		logged.Reset()
		err := run(ctx, []string{"publish", "-csv", csv, "-election", template, "-window", "2h",
			"-profile", n.Layout().ComponentProfile("admin"), "-log-public-key", strings.TrimSpace(printed.String())}, &out, &logged)
		var e ballot.Election
		if err == nil {
			err = json.Unmarshal(out.Bytes(), &e)
		}
		return e, err
	}
	began := time.Now().Truncate(time.Second)
	e, err := publish(csv, template)
	if err != nil {
		t.Fatal(err)
	}
	if e.RollRoot != want.Root || e.RollEntries == nil || *e.RollEntries != want.Entries || e.Status != ballot.StatusConfigured || e.ClosesAt.Sub(e.OpensAt) != 2*time.Hour || e.OpensAt.Before(began) {
		t.Fatalf("published %s: root %s, %v entries, status %s, window %s – %s; want root %s and %d entries (roll load's), configured, 2 h from %s",
			e.ID, e.RollRoot, e.RollEntries, e.Status, e.OpensAt, e.ClosesAt, want.Root, want.Entries, began)
	}
	ledger := nettest.Dial(t, n, "Observers").Ballot()
	seal, err := ledger.RollSeal(ctx)
	if err != nil || seal.Root != want.Root || seal.Voters != want.Entries {
		t.Fatalf("the Observers' peer's roll seal %+v, %v; want root %s over %d entries", seal, err, want.Root, want.Entries)
	}
	keys, err := ledger.LogKeys(ctx)
	if err != nil || !strings.Contains(fmtKeys(keys), strings.TrimSpace(printed.String())) {
		t.Fatalf("log keys on the ledger %+v, %v; want the printed key %s", keys, err, printed.String())
	}

	if !strings.Contains(logged.String(), "public_key="+strings.TrimSpace(printed.String())) {
		t.Errorf("publish logged:\n%s\nwant the key registered, by its public key", logged.String())
	}

	again, err := publish(csv, template)
	if err != nil || !again.OpensAt.Equal(e.OpensAt) || again.RollRoot != e.RollRoot {
		t.Fatalf("publish again: %+v, %v; want the same record", again, err)
	}
	if !strings.Contains(logged.String(), "-window is not used") {
		t.Errorf("publish again logged:\n%s\nwant a note that -window is not used", logged.String())
	}
	if _, err := publish(other, template); err == nil || !strings.Contains(err.Error(), "it is another roll") {
		t.Fatalf("publish of another roll: %v; want refused", err)
	}
	renamed := filepath.Join(dir, "renamed.json")
	tmpl, err := election.Template(template)
	if err != nil {
		t.Fatal(err)
	}
	tmpl.Name = "Another election"
	if data, err := json.Marshal(tmpl); err != nil || os.WriteFile(renamed, data, 0o600) != nil {
		t.Fatal(err)
	}
	if _, err := publish(csv, renamed); err == nil || !strings.Contains(err.Error(), `name "Another election", the ledger's`) || !strings.Contains(err.Error(), "give -election the template it was set up from") {
		t.Fatalf("publish with another template: %v; want refused naming the difference and the fix", err)
	}
}

func fmtKeys(keys ballot.LogKeys) string {
	b, _ := json.Marshal(keys)
	return string(b)
}

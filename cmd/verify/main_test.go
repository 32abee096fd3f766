package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"maps"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/explorer/verify"
	"github.com/votechain/votechain/internal/cli"
	"github.com/votechain/votechain/internal/cli/clitest"
	"github.com/votechain/votechain/network"
	"github.com/votechain/votechain/network/fabricclient"
)

// writeFile writes data to a file of the test's and returns its path.
func writeFile(t *testing.T, data string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "receipt.json")
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestCheckGatewayFlags: --vote-id must be a vote id and --gateway, when
// used, a URL with its scheme.
func TestCheckGatewayFlags(t *testing.T) {
	id, _ := ballot.NewVoteID()
	for _, c := range []struct {
		voteID, gateway string
		used            bool
		err             string
	}{
		{id, "http://127.0.0.1:8080", true, ""},
		{"", "https://gateway.example", true, ""},
		{"", "localhost:8080", false, ""}, // not used: receipt files
		{"../../healthz", "http://127.0.0.1:8080", true, `--vote-id "../../healthz" is not a vote id`},
		{strings.ToUpper(id), "http://127.0.0.1:8080", true, "is not a vote id"},
		{id, "localhost:8080", true, `--gateway "localhost:8080" is not a URL: give the gateway's base URL with its scheme, such as http://`},
		{id, "127.0.0.1:8080", true, "is not a URL"},
		{"", "http://", true, "is not a URL"},
		{"", "ftp://host", true, "is not a URL"},
	} {
		err := checkGatewayFlags(c.voteID, c.gateway, c.used)
		if c.err == "" && err != nil || c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
			t.Errorf("--vote-id %q --gateway %q: %v; want %q", c.voteID, c.gateway, err, c.err)
		}
	}
}

// runVerify runs verify with args and returns its exit status and what it
// wrote to stderr.
func runVerify(t *testing.T, args ...string) (int, string) {
	t.Helper()
	return runVerifyOn(t, context.Background(), args...)
}

// runVerifyOn is runVerify on ctx, as cli.Main's context (a signal ends it).
func runVerifyOn(t *testing.T, ctx context.Context, args ...string) (int, string) {
	t.Helper()
	stderr, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer func(args []string, out, errOut *os.File) { os.Args, os.Stdout, os.Stderr = args, out, errOut }(os.Args, os.Stdout, os.Stderr)
	os.Args, os.Stdout, os.Stderr = append([]string{"verify"}, args...), stderr, stderr
	code := run(ctx, strings.NewReader(""))
	data, _ := os.ReadFile(stderr.Name())
	return code, string(data)
}

// TestNegativeDeadlineIsAUsageError: a --deadline below zero is refused
// (status 2) naming the flag, before any receipt is read; it made every
// vote not yet on the ledger MISSING at once.
func TestNegativeDeadlineIsAUsageError(t *testing.T) {
	code, stderr := runVerify(t, "--deadline", "-5m", "--acceptance", "--offline", "--keys", writeFile(t, ""), writeFile(t, "{}"))
	if code != 2 || !strings.Contains(stderr, "verify: --deadline is -5m0s: it must be at least 0s") {
		t.Errorf("--deadline -5m: status %d, stderr %q; want 2 naming --deadline", code, stderr)
	}
}

// TestPeerAndOrgAreConsortiumOrganisations: a --peer or --org naming no
// organisation of the consortium (a lower-case "commission" too) is a
// usage error (status 2) listing the valid ones, before the profile is
// read; --peer was found wrong only when dialling, with a hint about the
// profile's identities.
func TestPeerAndOrgAreConsortiumOrganisations(t *testing.T) {
	noProfile := []string{"--profile", filepath.Join(t.TempDir(), "none.json"), "--acceptance", writeFile(t, "{}")}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--peer", "commission"}, `verify: --peer "commission" is not an organisation of the consortium: want Commission or Observers`},
		{[]string{"--org", "Nobody"}, `verify: --org "Nobody" is not an organisation of the consortium: want Commission or Observers`},
	} {
		code, stderr := runVerify(t, append(tc.args, noProfile...)...)
		if code != 2 || !strings.Contains(stderr, tc.want) || strings.Contains(stderr, "connection profile") {
			t.Errorf("%v: status %d, stderr %q; want 2 and %q, nothing dialled", tc.args, code, stderr, tc.want)
		}
	}
	if code, stderr := runVerify(t, append([]string{"--peer", "Observers"}, noProfile...)...); code != 2 || !strings.Contains(stderr, "read connection profile") {
		t.Errorf("--peer Observers: status %d, stderr %q; want it taken, the profile read", code, stderr)
	}
}

// TestOfflineIgnoresOrgAndPeer: --acceptance --offline, which dials
// nothing, takes any --org and --peer (as from an environment set for
// other runs): the flags pass and the run goes on to read --keys (here
// empty, refused saying so), where the organisations were refused first.
func TestOfflineIgnoresOrgAndPeer(t *testing.T) {
	offline := []string{"--acceptance", "--offline", "--keys", writeFile(t, ""), writeFile(t, "{}")}
	for _, flags := range [][]string{{"--peer", "commission"}, {"--org", "Nobody"}} {
		code, stderr := runVerify(t, append(flags, offline...)...)
		if code != 2 || !strings.Contains(stderr, "holds no log key") || strings.Contains(stderr, "organisation of the consortium") {
			t.Errorf("%v --acceptance --offline: status %d, stderr %q; want the organisation not checked, the empty --keys refused", flags, code, stderr)
		}
	}
}

// TestBadDeadlineSaysTheForm: a --deadline that is not a duration is
// refused (status 2) saying the form one takes, in the line verify prints
// as well as in the flag package's above the usage ("parse error" alone).
func TestBadDeadlineSaysTheForm(t *testing.T) {
	code, stderr := runVerify(t, "--deadline", "5x", "--acceptance", "--offline", "--keys", writeFile(t, ""), writeFile(t, "{}"))
	const want = `invalid value "5x" for flag -deadline: want a duration such as 90s, 5m or 1h30m`
	if code != 2 || !strings.Contains(stderr, "verify: "+want) || strings.Contains(stderr, "parse error") {
		t.Errorf("--deadline 5x: status %d, stderr %q; want 2 and %q", code, stderr, want)
	}
}

// TestKeysGoWithOffline: --acceptance --keys FILE without --offline, which
// silently checked the heads with the file's keys instead of the ledger's
// registered ones, is a usage error (status 2) naming the fix, before the
// ledger is dialled; $VERIFY_KEYS, which serves --offline, is left by a
// run against the ledger, which goes on to dial it (no profile here).
func TestKeysGoWithOffline(t *testing.T) {
	noProfile := []string{"--profile", filepath.Join(t.TempDir(), "none.json")}
	keys, receipt := writeFile(t, "{}"), writeFile(t, "{}")
	code, stderr := runVerify(t, append(noProfile, "--acceptance", "--keys", keys, receipt)...)
	const want = "verify: --keys goes with --offline: against the ledger, receipts' heads are checked with the log keys registered there, which no file replaces; drop --keys, or add --offline"
	if code != 2 || !strings.Contains(stderr, want) || strings.Contains(stderr, "connection profile") {
		t.Errorf("--acceptance --keys: status %d, stderr %q; want 2 and %q, nothing dialled", code, stderr, want)
	}
	t.Setenv("VERIFY_KEYS", keys)
	if code, stderr := runVerify(t, append(noProfile, "--acceptance", receipt)...); code != 2 || strings.Contains(stderr, "--keys") || !strings.Contains(stderr, "read connection profile") {
		t.Errorf("$VERIFY_KEYS with --acceptance: status %d, stderr %q; want the variable left, the profile read", code, stderr)
	}
}

// TestGatewayNotAnswering: --vote-id against a gateway nothing listens on
// fails at once naming the gateway, the cause and the fixes (start the
// system, or --gateway), not a bare "Get ...: connection refused".
func TestGatewayNotAnswering(t *testing.T) {
	base := "http://" + clitest.ReservedAddr(t)
	id, _ := ballot.NewVoteID()
	_, err := fetchReceipt(context.Background(), base, id, time.Minute)
	for _, want := range []string{"the gateway at " + base + " did not answer (dial tcp", "connection refused", "`make up` starts it", "give --gateway the URL of a running gateway"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("a gateway not running: %v; want %q", err, want)
		}
	}
}

// heldGateway returns the URL of a gateway that takes every connection and
// never answers, holding it open until the test ends.
func heldGateway(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open, never answered, until the listener closes
		}
	}()
	return "http://" + l.Addr().String()
}

// TestGatewayTakingNoRequest: --vote-id against a gateway that takes the
// connection and never answers gives up after --gateway-timeout (it waited
// for verify's 10-minute limit), naming the gateway, the time and the
// fixes, with status 2; and --gateway-timeout must be a time.
func TestGatewayTakingNoRequest(t *testing.T) {
	base := heldGateway(t)
	id, _ := ballot.NewVoteID()
	began := time.Now()
	code, stderr := runVerify(t, "--vote-id", id, "--gateway", base, "--gateway-timeout", "300ms")
	if took := time.Since(began); took > 10*time.Second {
		t.Errorf("took %s; want about --gateway-timeout", took)
	}
	want := "verify: the gateway at " + base + " did not answer within 300ms: is it overloaded or stuck? its log may say why; give --gateway-timeout more time, or give --gateway the URL of another running gateway\n"
	if code != 2 || stderr != want {
		t.Errorf("status %d, stderr %q; want 2 and %q", code, stderr, want)
	}
	if code, stderr := runVerify(t, "--vote-id", id, "--gateway-timeout", "0s"); code != 2 || !strings.Contains(stderr, "--gateway-timeout is 0s: it must be at least 1ms") {
		t.Errorf("--gateway-timeout 0s: status %d, stderr %q; want 2 naming the flag", code, stderr)
	}
}

// TestFlagsOfAnotherModeAreRefused: two modes, files for a mode that reads
// none, and a flag given on the command line to a mode it does not serve
// are usage errors (status 2) naming the modes (--acceptance --log ran
// --log, ignoring the files; --log-state with receipt files was ignored); a
// variable setting such a flag is not a mistake. A file argument that
// begins with "-" and does not exist is named as a flag after the files
// (it said "open -q: no such file or directory"), and a --log-state that
// is not one --log wrote is named with its flag, before the ledger is
// dialled.
func TestFlagsOfAnotherModeAreRefused(t *testing.T) {
	receipt := writeFile(t, "{}")
	id, _ := ballot.NewVoteID()
	garbage := filepath.Join(t.TempDir(), "garbage.bin")
	if err := os.WriteFile(garbage, []byte{0, 1, 2, 0xff}, 0o644); err != nil {
		t.Fatal(err)
	}
	noProfile := []string{"--profile", filepath.Join(t.TempDir(), "none.json")} // nothing is dialled
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--acceptance", "--log", receipt}, "verify: --acceptance and --log are modes of their own: give one"},
		{[]string{"--vote-id", id, "--log"}, "verify: --vote-id and --log are modes of their own: give one"},
		{[]string{"--log", receipt}, `verify: --log reads no files, but was given ["` + receipt + `"]: receipt files are checked without a mode flag, acceptance receipts with --acceptance`},
		{[]string{"--vote-id", id, receipt}, "verify: --vote-id reads no files"},
		{[]string{"--log-state", garbage, receipt}, "verify: --log-state goes with --log, not with receipt files"},
		{[]string{"--log", "--offline", "--keys", receipt}, "verify: --keys goes with --acceptance, not with --log\n--offline goes with --acceptance, not with --log"},
		{[]string{"--deadline", "1m", "--vote-id", id}, "verify: --deadline goes with --acceptance or --log, not with --vote-id"},
		{[]string{"--gateway", "http://127.0.0.1:1", receipt}, "verify: --gateway goes with --vote-id, --acceptance or --log, not with receipt files"},
		{nil, "verify: give receipt files, --vote-id ID, --acceptance with acceptance receipt files, or --log"},
		{[]string{receipt, "-q"}, "verify: -q: no such file; flags go before the files: verify [flags] FILE ..."},
		{[]string{"--log", "--log-state", garbage}, "verify: --log-state " + garbage + " is not a file of the heads a log check saw (invalid character"},
		{[]string{"--log", "--log-state", t.TempDir()}, "verify: --log-state: read "},
	} {
		code, stderr := runVerify(t, append(slices.Clip(noProfile), c.args...)...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%q: status %d, stderr %q; want 2 and %q", c.args, code, stderr, c.want)
		}
	}
	// Set by the environment, a flag serves its modes and the others
	// leave it: the receipt check goes on to the ledger (missing here).
	t.Setenv("VERIFY_DEADLINE", "1m")
	t.Setenv("VERIFY_GATEWAY", "http://127.0.0.1:1")
	if code, stderr := runVerify(t, append(slices.Clip(noProfile), receipt)...); code != 2 || strings.Contains(stderr, "goes with") || !strings.Contains(stderr, "read connection profile") {
		t.Errorf("$VERIFY_DEADLINE and $VERIFY_GATEWAY with receipt files: status %d, stderr %q; want them left, the profile read", code, stderr)
	}
	// $VERIFY_GATEWAY, kept for --vote-id and --log, neither turns on
	// --acceptance's fork check nor conflicts with its --offline.
	if _, stderr := runVerify(t, "--acceptance", "--offline", "--keys", receipt, receipt); strings.Contains(stderr, "--gateway") {
		t.Errorf("$VERIFY_GATEWAY with --acceptance --offline: stderr %q; want the variable left to --vote-id and --log", stderr)
	}
}

// pemFile writes blocks to a file of the test's named name and returns
// its path.
func pemFile(t *testing.T, name string, blocks ...*pem.Block) string {
	t.Helper()
	var data []byte
	for _, b := range blocks {
		data = append(data, pem.EncodeToMemory(b)...)
	}
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// explorerProfile writes a connection profile holding the Observers' User1
// (the explorer's identity) and both organisations' peers: the Commission's
// at a reserved port nothing serves, the Observers' with a TLS root that is
// missing. It returns the profile's path and the Commission peer's address.
func explorerProfile(t *testing.T) (path, commissionPeer string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, certErr := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	pkcs8, keyErr := x509.MarshalPKCS8PrivateKey(key)
	if err := errors.Join(certErr, keyErr); err != nil {
		t.Fatal(err)
	}
	cert := pemFile(t, "cert.pem", &pem.Block{Type: "CERTIFICATE", Bytes: der}) // the user's, and the Commission peer's TLS root
	commissionPeer = clitest.ReservedAddr(t)                                    // refuses connections: the peer is down
	profile := network.Profile{Channel: "election", Chaincode: "ballot", Orgs: map[string]network.OrgProfile{
		"Commission": {MSPID: "CommissionMSP", Peer: network.Endpoint{Address: commissionPeer, TLSRootPEM: cert, ServerName: "peer0.commission"}},
		"Observers": {MSPID: "ObserversMSP", Peer: network.Endpoint{Address: "127.0.0.1:29702", TLSRootPEM: filepath.Join(t.TempDir(), "missing.pem"), ServerName: "peer0.observers"},
			Users: map[string]network.Identity{network.Explorer.User: {Cert: cert, Key: pemFile(t, "key.pem", &pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})}}},
	}}
	path = filepath.Join(t.TempDir(), "explorer.json")
	if err := profile.Save(path); err != nil {
		t.Fatal(err)
	}
	return path, commissionPeer
}

// TestPeerKeepsTheIdentity: verify's default identity is the one profile
// the explorer's holds, the Observers' User1; --peer Commission dials the
// Commission's peer as that same identity (its TLS root read, the
// Observers' missing one not), where --org Commission, the advice verify
// gave before to check through the other organisation's peer, asks the
// profile for a Commission identity it does not hold.
func TestPeerKeepsTheIdentity(t *testing.T) {
	path, commissionPeer := explorerProfile(t)
	dialer := func(org, peer string) *cli.Ledger {
		return &cli.Ledger{Profile: path, Org: org, User: network.Explorer.User, Peer: peer}
	}

	if _, err := dialer(network.Explorer.Org, "").Dial(t.Context()); err == nil || !strings.Contains(err.Error(), "Observers peer: TLS root") {
		t.Errorf("the default dial: %v; want the Observers' peer, its TLS root missing", err)
	}
	conn, err := dialer(network.Explorer.Org, "Commission").Dial(t.Context())
	if err != nil {
		t.Fatalf("--peer Commission: %v", err)
	}
	defer conn.Close()
	if msp := conn.Gateway.Identity().MspID(); msp != "ObserversMSP" {
		t.Errorf("--peer Commission reads as an identity of %s; want the Observers' (the explorer's)", msp)
	}
	// Nothing can serve the Commission's peer here (its port is reserved): a
	// look-up gets no connection (fabricclient.Unreachable), the kind of no
	// answer --log stops its look-ups at.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := conn.Ballot().LocateNullifier(ctx, "CA", strings.Repeat("0", 64)); !fabricclient.Unreachable(err) || !strings.Contains(err.Error(), "the Commission peer at "+commissionPeer+" is not reachable") {
		t.Errorf("a look-up through a peer that is down: %v; want it unreachable, naming the peer", err)
	}
	if _, err := dialer("Commission", "").Dial(t.Context()); !errors.Is(err, network.ErrNotInProfile) {
		t.Errorf("--org Commission: %v; want the profile not holding a Commission identity", err)
	}
}

// TestStopBeforeTheDialSaysTheSignal: a signal that has ended the run's
// context by the time the ledger is dialled stops the run saying so and the
// step, with the signal's status, 130 for SIGINT, as at every other step (it
// exited 2, a run that could not check); but a FAIL line printed before the
// dial (a file that is not an acceptance receipt) makes it 1, whatever else.
func TestStopBeforeTheDialSaysTheSignal(t *testing.T) {
	path, _ := explorerProfile(t)
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(cli.Interrupted{Signal: syscall.SIGINT})
	const said = "verify: interrupted by SIGINT while dialling the ledger\n"
	if code, stderr := runVerifyOn(t, ctx, "--profile", path, writeFile(t, "{}")); code != 130 || stderr != said {
		t.Errorf("interrupted before the dial: status %d, stderr %q; want 130 and %q", code, stderr, said)
	}
	if code, stderr := runVerifyOn(t, ctx, "--profile", path, "--acceptance", writeFile(t, `{"not":"a receipt"}`)); code != 1 || !strings.Contains(stderr, "FAIL ") || !strings.HasSuffix(stderr, said) {
		t.Errorf("interrupted before the dial, after a FAIL: status %d, stderr %q; want 1 and %q", code, stderr, said)
	}
}

// TestStopAtAFailedDialKeepsItsError: a dial that failed on its own (the
// identity's certificate file gone, read before the dial looks at ctx)
// while a signal ended the run says the signal and the step, then the
// dial's error, which the signal's wording alone hid; the status is the
// signal's.
func TestStopAtAFailedDialKeepsItsError(t *testing.T) {
	path, _ := explorerProfile(t)
	profile, err := network.LoadProfile(path)
	if err != nil {
		t.Fatal(err)
	}
	cert := profile.Orgs[network.Explorer.Org].Users[network.Explorer.User].Cert
	if err := os.Remove(cert); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(cli.Interrupted{Signal: syscall.SIGINT})
	code, stderr := runVerifyOn(t, ctx, "--profile", path, writeFile(t, "{}"))
	const said = "verify: interrupted by SIGINT while dialling the ledger; the dial had failed: "
	if code != 130 || !strings.HasPrefix(stderr, said) || !strings.Contains(stderr, cert) {
		t.Errorf("interrupted at a dial failing on its own: status %d, stderr %q; want 130, %q and the missing %s", code, stderr, said, cert)
	}
}

// TestAcceptanceFailureBeforeAnErrorStands: a FAIL line (a file that is
// not an acceptance receipt) printed before the run stops on an error
// makes its status 1, not 2: with --offline, at the read of a --keys file
// that is missing; against the ledger, at the read of the registered log
// keys from a peer that is down (the Commission's here, its port
// reserved).
func TestAcceptanceFailureBeforeAnErrorStands(t *testing.T) {
	notAcceptance := writeFile(t, `{"not":"a receipt"}`)
	missing := filepath.Join(t.TempDir(), "keys.json")
	code, stderr := runVerify(t, "--acceptance", "--offline", "--keys", missing, notAcceptance)
	if code != 1 || !strings.Contains(stderr, "FAIL ") || !strings.Contains(stderr, "verify: ") || !strings.Contains(stderr, missing) {
		t.Errorf("--offline --keys missing after a FAIL: status %d, stderr %q; want 1, the FAIL line and the error naming %s", code, stderr, missing)
	}
	path, commissionPeer := explorerProfile(t)
	code, stderr = runVerify(t, "--profile", path, "--peer", "Commission", "--acceptance", notAcceptance)
	if want := "verify: read the registered log keys:"; code != 1 || !strings.Contains(stderr, "FAIL ") || !strings.Contains(stderr, want) || !strings.Contains(stderr, commissionPeer) {
		t.Errorf("log keys unread after a FAIL: status %d, stderr %q; want 1, the FAIL line and %q naming %s", code, stderr, want, commissionPeer)
	}
}

// TestTimeoutEndsTheRun: --timeout (and $VERIFY_TIMEOUT) bounds the whole
// run: --vote-id against a gateway that never answers, with a
// --gateway-timeout far longer (60s), stops after 50 ms saying it took longer
// than --timeout, the flag to give and the step it was in (it ended with a
// bare "context deadline exceeded" after a hard-coded 10 minutes), status
// 2; the flag is a duration of at least 1ms, 10m by default.
func TestTimeoutEndsTheRun(t *testing.T) {
	base := heldGateway(t)
	id, _ := ballot.NewVoteID()
	for _, c := range []struct{ value, want string }{
		{"0s", "verify: --timeout is 0s: it must be at least 1ms"},
		{"5x", `invalid value "5x" for flag -timeout: want a duration such as 90s`},
	} {
		if code, stderr := runVerify(t, "--timeout", c.value, "--vote-id", id); code != statusIncomplete || !strings.Contains(stderr, c.want) {
			t.Errorf("--timeout %s: status %d, stderr %q; want %d and %q", c.value, code, stderr, statusIncomplete, c.want)
		}
	}
	const want = "verify: took longer than 50ms: give --timeout more time (it was fetching the receipt from the gateway)\n"
	for _, viaEnv := range []bool{false, true} {
		args := []string{"--vote-id", id, "--gateway", base, "--gateway-timeout", "60s"}
		if viaEnv {
			t.Setenv("VERIFY_TIMEOUT", "50ms")
		} else {
			args = append([]string{"--timeout", "50ms"}, args...)
		}
		began := time.Now()
		code, stderr := runVerify(t, args...)
		if took := time.Since(began); took > 20*time.Second { // far below 60s, far above 50ms on a loaded machine
			t.Errorf("took %s; want about 50ms, not --gateway-timeout's 60s", took)
		}
		if code != statusIncomplete || stderr != want {
			t.Errorf("timeout from the environment %t: status %d, stderr %q; want %d and %q", viaEnv, code, stderr, statusIncomplete, want)
		}
	}
	if code, stderr := runVerify(t, "--help"); code != statusGood || !strings.Contains(stderr, "-timeout duration") || !strings.Contains(stderr, "(default 10m0s)") {
		t.Errorf("--help: status %d, stderr %q; want --timeout with its default, 10m0s", code, stderr)
	}
}

// TestSignalEndsTheRun: a run whose context a signal ends (cli.Main's,
// its cause a cli.Interrupted) stops saying so and the step it was in,
// with the signal's status, 130 for SIGINT.
func TestSignalEndsTheRun(t *testing.T) {
	base := heldGateway(t)
	id, _ := ballot.NewVoteID()
	ctx, cancel := context.WithCancelCause(context.Background())
	time.AfterFunc(50*time.Millisecond, func() { cancel(cli.Interrupted{Signal: syscall.SIGINT}) })
	code, stderr := runVerifyOn(t, ctx, "--vote-id", id, "--gateway", base)
	const want = "verify: interrupted by SIGINT while fetching the receipt from the gateway\n"
	if code != 130 || stderr != want {
		t.Errorf("SIGINT: status %d, stderr %q; want 130 and %q", code, stderr, want)
	}
}

// TestGatewayNotFoundSaysWhatToCheck: a 404 from the gateway for --vote-id
// gives the gateway's error code and message and what to check: for
// no_vote the vote id and --gateway (an id no gateway of that election
// issued; a vote accepted but not on the ledger is PENDING, not 404), for
// any other 404 that --gateway is not a gateway's base URL. It said only
// "gateway answered 404".
func TestGatewayNotFoundSaysWhatToCheck(t *testing.T) {
	id, _ := ballot.NewVoteID()
	for _, c := range []struct {
		body string
		want []string
	}{
		{`{"error":{"code":"no_vote","message":"no vote has this id"}}`, []string{
			"answered 404 Not Found (no_vote: no vote has this id)", "no gateway of its election issued vote id " + id,
			"check it against the vote_id the gateway answered when the vote was cast", "that --gateway is a gateway of the election", "answered PENDING, not 404"}},
		{`{"error":{"code":"not_found","message":"no such resource"}}`, []string{
			"answered 404 Not Found (not_found: no such resource)", "is not a Votechain gateway's base URL", "check --gateway"}},
		{"404 page not found", []string{"answered 404 Not Found (404 page not found)", "check --gateway"}},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/api/v1/votes/"+id {
				t.Errorf("asked for %s", r.URL.Path)
			}
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(c.body))
		}))
		_, err := fetchReceipt(context.Background(), srv.URL, id, time.Minute)
		srv.Close()
		for _, want := range append(c.want, "the gateway at "+srv.URL) {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("404 %s: %v; want %q", c.body, err, want)
			}
		}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"error":{"code":"unavailable","message":"the vote's record cannot be read right now"}}`))
	}))
	defer srv.Close()
	if _, err := fetchReceipt(context.Background(), srv.URL, id, time.Minute); err == nil || !strings.HasSuffix(err.Error(), "answered 503 Service Unavailable (unavailable: the vote's record cannot be read right now)") {
		t.Errorf("503: %v; want the gateway's code and message, no 404 hint", err)
	}
}

// TestAcceptanceGatewayNotOffline: --gateway, which checks receipts' heads
// against the anchored ones, with --offline is a usage error.
func TestAcceptanceGatewayNotOffline(t *testing.T) {
	code, stderr := runVerify(t, "--acceptance", "--offline", "--keys", writeFile(t, ""), "--gateway", "http://127.0.0.1:1", writeFile(t, "{}"))
	if code != 2 || !strings.Contains(stderr, "verify: --gateway checks receipts' heads against the heads anchored on the ledger: not with --offline") {
		t.Errorf("status %d, stderr %q; want 2 saying --gateway goes without --offline", code, stderr)
	}
}

// TestExitStatusHelp: --help prints each row of exitStatuses, the one
// account of the exit statuses.
func TestExitStatusHelp(t *testing.T) {
	_, help := runVerify(t, "--help")
	oneLine := strings.Join(strings.Fields(help), " ")
	for _, s := range exitStatuses() {
		if !strings.Contains(oneLine, strings.Join(strings.Fields(s.means), " ")) {
			t.Errorf("--help lacks status %d: %q", s.code, s.means)
		}
	}
}

// TestHelpNamesTheReceiptPaths: --help names the gateway's routes of a
// vote's receipt and acceptance receipt by the paths verify asks for,
// ballot's (ReceiptPath, and AcceptancePathSuffix after it), so the text
// cannot drift from them; it spelled both as text, the acceptance
// receipt's with {id}.
func TestHelpNamesTheReceiptPaths(t *testing.T) {
	const id = "0123456789abcdef0123456789abcdef"
	receipt := "GET " + strings.Replace(ballot.ReceiptPath(id), id, "{vote_id}", 1)
	_, help := runVerify(t, "--help")
	oneLine := strings.Join(strings.Fields(help), " ")
	for _, want := range []string{
		"A receipt is the body of the gateway's " + receipt + " once the vote is committed",
		"--acceptance checks signed acceptance receipts (" + receipt + ballot.AcceptancePathSuffix + "):",
	} {
		if !strings.Contains(oneLine, want) {
			t.Errorf("--help lacks %q:\n%s", want, help)
		}
	}
}

// signedLog returns the registered log keys of one key and the
// acceptance receipts of a log of n CA votes of election e, each under
// the log's head of n entries signed by that key.
func signedLog(t *testing.T, n int) (ballot.LogKeys, []ballot.Acceptance) {
	t.Helper()
	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	keys, _, err := ballot.LogKeys{}.Register([]ballot.LogKey{ballot.NewLogKey(key.Public().(ed25519.PublicKey))}, 0)
	if err != nil {
		t.Fatal(err)
	}
	var log ballot.LogTree
	as := make([]ballot.Acceptance, n)
	for i := range as {
		id, _ := ballot.NewVoteID()
		as[i].Vote = ballot.Vote{ID: id, State: "CA", Contest: "president", Choice: "alice", CastAt: 1,
			Nullifier: ballot.HashHex(ballot.NullifierOf([32]byte{byte(i)}, "president"))}
		leaf, err := as[i].Vote.Leaf()
		if err != nil {
			t.Fatal(err)
		}
		log.Append(leaf)
	}
	size := uint64(n)
	root, _ := log.Root(size)
	head, err := ballot.TreeHead{Election: "e", State: "CA", Size: size, Root: ballot.HashHex(root), Timestamp: 1}.Sign(key)
	if err != nil {
		t.Fatal(err)
	}
	for i := range as {
		index := uint64(i)
		proof, _ := log.InclusionProof(index, size)
		leaf, _ := log.Leaf(index)
		as[i].VoteID, as[i].Index, as[i].Leaf, as[i].Proof, as[i].Head = as[i].Vote.ID, index, ballot.HashHex(leaf), ballot.HexHashes(proof), head
	}
	return keys, as
}

// TestAcceptanceOfflineRun: verify --acceptance --offline, which reads no
// ledger and compares no heads, prints a VALID or FAIL line a receipt,
// then the summary of those two outcomes, "N receipts: a valid, b
// failed", as the lines count them, and exits 1 when one FAILs.
func TestAcceptanceOfflineRun(t *testing.T) {
	keys, as := signedLog(t, 3)
	altered := as[1]
	altered.Vote.Choice = "bob"
	record, err := json.Marshal(keys) // the GetLogKeys record --keys takes
	if err != nil {
		t.Fatal(err)
	}
	var receipts strings.Builder
	for _, a := range append(slices.Clone(as), altered) {
		line, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		receipts.Write(append(line, '\n'))
	}
	code, out := runVerify(t, "--acceptance", "--offline", "--keys", writeFile(t, string(record)), writeFile(t, receipts.String()))
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	summary := lines[len(lines)-1]
	if want := "4 receipts: 3 valid, 1 failed"; code != 1 || summary != want {
		t.Errorf("status %d, summary %q; want 1 and %q:\n%s", code, summary, want, out)
	}
	labels := map[string]int{}
	for _, line := range lines[:len(lines)-1] {
		label, _, _ := strings.Cut(line, " ")
		labels[label]++
	}
	if want := map[string]int{"VALID": 3, "FAIL": 1}; !maps.Equal(labels, want) {
		t.Errorf("lines labelled %v; want %v, one a receipt, before the summary:\n%s", labels, want, out)
	}
}

// headLedger is the ledger of election e, open, of one state, CA, whose
// anchored head is head, signed by a key of keys: what the log monitor
// reads before it asks the gateway for the log's entries. Its other reads
// are not served (the embedded StandingLedger is nil): the check must not
// get past the gateway.
type headLedger struct {
	verify.StandingLedger
	head ballot.TreeHead
	keys ballot.LogKeys
}

func (headLedger) Election(context.Context) (*ballot.Election, error) {
	return &ballot.Election{ID: "e", States: []string{"CA"}, Status: ballot.StatusConfigured}, nil
}

func (l headLedger) LogKeys(context.Context) (ballot.LogKeys, error) { return l.keys, nil }

func (l headLedger) LogHead(context.Context, string) (ballot.AnchoredHead, error) {
	return ballot.AnchoredHead{Head: l.head, TxID: "tx0"}, nil
}

// TestLogGatewayTakingNoRequest: verify --log against a gateway that takes
// the connection and never reads the request gives up on the read of the
// log's entries after --gateway-timeout (it waited for verify's 10-minute
// limit), with status 2 and the message of --vote-id's: the gateway, the
// time and the fixes. A signal that ends the run while it waits stops it
// saying so and what it was doing, with the signal's status.
func TestLogGatewayTakingNoRequest(t *testing.T) {
	base := heldGateway(t)
	keys, as := signedLog(t, 3)
	ledger := headLedger{head: as[0].Head, keys: keys}
	var stdout, stderr bytes.Buffer
	began := time.Now()
	code := checkLog(context.Background(), &stdout, &stderr, logGateway(base, 300*time.Millisecond), ledger, "Observers", time.Minute, nil)
	if took := time.Since(began); took > 10*time.Second {
		t.Errorf("took %s; want about --gateway-timeout", took)
	}
	want := "verify: read the CA log: the gateway at " + base + " did not answer within 300ms: is it overloaded or stuck? its log may say why; give --gateway-timeout more time, or give --gateway the URL of another running gateway\n"
	if code != 2 || !strings.HasSuffix(stderr.String(), want) {
		t.Errorf("status %d, stderr %q; want 2 and %q", code, stderr.String(), want)
	}

	stderr.Reset()
	ctx, cancel := context.WithCancelCause(context.Background())
	time.AfterFunc(50*time.Millisecond, func() { cancel(cli.Interrupted{Signal: syscall.SIGINT}) })
	code = checkLog(ctx, &stdout, &stderr, logGateway(base, time.Minute), ledger, "Observers", time.Minute, nil)
	if want := "verify: interrupted by SIGINT while monitoring the intake logs\n"; code != 130 || !strings.HasSuffix(stderr.String(), want) {
		t.Errorf("SIGINT: status %d, stderr %q; want 130 and %q", code, stderr.String(), want)
	}
}

// TestReadFilesStdin: "-" reads the receipts on stdin, the reader run is
// given (main's os.Stdin), named "stdin" where each was read, between
// those of the files around it.
func TestReadFilesStdin(t *testing.T) {
	file := writeFile(t, "{}")
	read, err := readFiles[ballot.Receipt](strings.NewReader("{}\n{}\n"), []string{file, "-", file}, "receipt", false)
	var at []string
	for _, d := range read {
		at = append(at, d.At)
	}
	if want := []string{file + ": receipt 1", "stdin: receipt 1", "stdin: receipt 2", file + ": receipt 1"}; err != nil || !slices.Equal(at, want) {
		t.Errorf("read at %q, %v; want %q", at, err, want)
	}
}

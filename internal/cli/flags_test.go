package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/votechain/votechain/explorer/logmonitor"
	"github.com/votechain/votechain/network"
)

// TestSharedDefaultsFollowThePortPlan: commands run with their defaults
// reach the Redis, gateway, explorer and Prometheus of the default port
// plan.
func TestSharedDefaultsFollowThePortPlan(t *testing.T) {
	fs := flag.NewFlagSet("tool", flag.ContinueOnError)
	r, l := RedisFlags(fs, "gateway"), LedgerFlags(fs, network.Gateway)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	p := network.Ports{Base: network.DefaultPortBase}
	if want := fmt.Sprintf("127.0.0.1:%d", p.Redis()); r.Addr != want {
		t.Errorf("--redis-addr default %s, want %s", r.Addr, want)
	}
	if DefaultGatewayAddr() != fmt.Sprintf("127.0.0.1:%d", p.Gateway()) || DefaultExplorerAddr() != fmt.Sprintf("127.0.0.1:%d", p.Explorer()) ||
		DefaultPrometheusAddr() != fmt.Sprintf("127.0.0.1:%d", p.Prometheus()) {
		t.Errorf("gateway %s, explorer %s, Prometheus %s", DefaultGatewayAddr(), DefaultExplorerAddr(), DefaultPrometheusAddr())
	}
	if l.Profile != filepath.Join(".run", "network", "profiles", "gateway.json") || l.Org != "Commission" || l.User != "User2" {
		t.Errorf("ledger flags %+v", l)
	}
}

// TestPortBaseDefaultsToTheRecord: without --port-base a command passes 0,
// the base its system's folder recorded (so `status` of a system made with
// another base reads that system's ports), and Check accepts it; a given
// base is checked.
func TestPortBaseDefaultsToTheRecord(t *testing.T) {
	for _, c := range []struct {
		args []string
		base int
		ok   bool
	}{{nil, 0, true}, {[]string{"--port-base", "32000"}, 32000, true}, {[]string{"--port-base", "80"}, 80, false}} {
		fs := flag.NewFlagSet("tool", flag.ContinueOnError)
		n := NetworkFlags(fs)
		if err := fs.Parse(c.args); err != nil {
			t.Fatal(err)
		}
		err := n.Check()
		if n.PortBase != c.base || (err == nil) != c.ok {
			t.Errorf("%q: base %d, Check %v; want base %d, accepted %v", c.args, n.PortBase, err, c.base, c.ok)
		}
	}
}

func TestRedisPassword(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	r := RedisFlags(fs, "gateway")
	if r.User != "gateway" || r.PasswordFile != filepath.Join(".run", "secrets", "redis", "gateway.password") {
		t.Fatalf("redis flag defaults %+v", r)
	}
	r.PasswordFile = filepath.Join(t.TempDir(), "pw")
	if _, err := r.Options(); err == nil {
		t.Fatal("a missing password file was ignored")
	}
	os.WriteFile(r.PasswordFile, []byte("from-file\n"), 0o600)
	if o, err := r.Options(); err != nil || o.Password != "from-file" || o.Username != "gateway" {
		t.Fatalf("file password: %+v, %v", o, err)
	}
	t.Setenv(RedisPasswordEnv, "from-env")
	if o, err := r.Options(); err != nil || o.Password != "from-env" || len(o.Addrs) != 1 || o.Addrs[0] != r.Addr {
		t.Fatalf("env password: %+v, %v", o, err)
	}
}

// TestRedisEndpoint: several addresses, or --redis-cluster, mean a Redis
// Cluster; a malformed address is refused.
func TestRedisEndpoint(t *testing.T) {
	for _, c := range []struct {
		addr    string
		cluster bool
		want    int
		isClust bool
	}{
		{"127.0.0.1:1", false, 1, false},
		{"127.0.0.1:1", true, 1, true},
		{"127.0.0.1:1, 127.0.0.1:2,127.0.0.1:3", false, 3, true},
	} {
		e, err := (&Redis{Addr: c.addr, Cluster: c.cluster}).Endpoint()
		if err != nil || len(e.Addrs) != c.want || e.Cluster != c.isClust || e.Options("u", "p").IsClusterMode != c.isClust {
			t.Errorf("%q cluster=%v: %+v, %v; want %d addresses, cluster %v", c.addr, c.cluster, e, err, c.want, c.isClust)
		}
	}
	for _, bad := range []string{"", " , ", "localhost"} {
		if _, err := (&Redis{Addr: bad}).Endpoint(); err == nil {
			t.Errorf("address %q accepted", bad)
		}
	}
}

func TestLogFlags(t *testing.T) {
	var out bytes.Buffer
	log, err := (&Log{Level: "warn", Format: "json"}).Logger(&out)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("hidden")
	log.Warn("shown", "k", 1)
	if got := out.String(); strings.Contains(got, "hidden") || !strings.Contains(got, `"msg":"shown","k":1`) {
		t.Fatalf("json at warn: %q", got)
	}
	for _, bad := range []Log{{Level: "loud", Format: "text"}, {Level: "info", Format: "xml"}} {
		if _, err := bad.Logger(io.Discard); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func TestLoadSecret(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "s")
	_ = os.WriteFile(good, []byte(strings.Repeat("ab", 32)+"\n"), 0o600)
	if s, err := LoadSecret(good); err != nil || len(s) != 32 {
		t.Fatalf("file: %x, %v", s, err)
	}
	t.Setenv(SecretEnv, strings.Repeat("cd", 16))
	if s, err := LoadSecret(""); err != nil || len(s) != 16 {
		t.Fatalf("env: %x, %v", s, err)
	}
	for _, bad := range []string{"", "zz", "abcd"} {
		t.Setenv(SecretEnv, bad)
		if _, err := LoadSecret(""); err == nil {
			t.Errorf("secret %q accepted", bad)
		}
	}
	// A file given that is empty or not hex is named with what it must
	// hold, not taken for no file given.
	bad := filepath.Join(dir, "bad")
	for data, want := range map[string]string{
		"\n":         "election secret file " + bad + " is empty: it must hold the secret in hex, at least 16 bytes",
		`{"s":"ab"}`: "election secret in " + bad + " is not hex (encoding/hex: invalid byte: U+007B '{'): it must hold the secret in hex",
	} {
		_ = os.WriteFile(bad, []byte(data), 0o600)
		if _, err := LoadSecret(bad); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("secret file holding %q: %v; want %q", data, err, want)
		}
	}
	// Neither given: make up's file, if it exists, else an error that says
	// where secrets come from.
	t.Setenv(SecretEnv, "")
	t.Chdir(dir)
	if _, err := LoadSecret(""); err == nil || !strings.Contains(err.Error(), "--secret-file") || !strings.Contains(err.Error(), DefaultSecretFile()) {
		t.Errorf("no secret anywhere: %v; want the places named", err)
	}
	if err := os.MkdirAll(".run", 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(DefaultSecretFile(), []byte(strings.Repeat("ef", 16)), 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := LoadSecret(""); err != nil || s[0] != 0xef {
		t.Errorf("make up's file: %x, %v", s, err)
	}
	t.Setenv(SecretEnv, strings.Repeat("cd", 16))
	if s, err := LoadSecret(""); err != nil || s[0] != 0xcd {
		t.Errorf("the environment over make up's file: %x, %v", s, err)
	}
	if s, err := LoadSecret(good); err != nil || s[0] != 0xab {
		t.Errorf("--secret-file over both: %x, %v", s, err)
	}
}

func TestUsageNamesWhereSecretsComeFrom(t *testing.T) {
	fs := flag.NewFlagSet("tool", flag.ContinueOnError)
	var out bytes.Buffer
	fs.SetOutput(&out)
	RedisFlags(fs, "gateway")
	SecretFlag(fs)
	Usage(fs, "TOOL", "tool does things.", "More.")()
	for _, want := range []string{"TOOL_REDIS_ADDR", "$" + SecretEnv, "$" + RedisPasswordEnv, "More."} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("usage lacks %q:\n%s", want, out.String())
		}
	}
}

// TestDialNamesTheProfileThatLacksAnIdentity: an organisation or user the
// profile does not hold is refused naming the profile, what it holds, and
// the profile that holds every identity.
func TestDialNamesTheProfileThatLacksAnIdentity(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gateway.json")
	p := network.Profile{Orgs: map[string]network.OrgProfile{"Observers": {MSPID: "ObserversMSP", Peer: network.Endpoint{Address: "127.0.0.1:27151"}, Users: map[string]network.Identity{"Gateway": {}}}}}
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ org, user, want string }{
		{"Commission", "User1", `organisation "Commission" is not in the connection profile (it holds Observers)`},
		{"Observers", "User1", `user "User1" of Observers is not in the connection profile (it holds Gateway)`},
	} {
		_, err := (&Ledger{Profile: path, Org: c.org, User: c.user}).Dial(t.Context())
		if err == nil || !strings.Contains(err.Error(), "--profile "+path+": "+c.want) || !strings.Contains(err.Error(), filepath.Join(".run", "network", "profile.json")) {
			t.Errorf("%s %s: %v; want %q and the profile of every identity", c.org, c.user, err, c.want)
		}
	}
}

// TestCheckBaseURL: an http or https URL with a host passes, with a path
// or not; one without a scheme, with another scheme or without a host is a
// usage error naming the flag, the value and whose URL to give, with the
// example address; the gateway's and the explorer's checks say theirs.
func TestCheckBaseURL(t *testing.T) {
	for _, v := range []string{"http://127.0.0.1:27395", "https://prometheus.example.org/prom/"} {
		if err := CheckBaseURL("--prometheus", v, "Prometheus's", "127.0.0.1:27395"); err != nil {
			t.Errorf("%q: %v; want it taken", v, err)
		}
	}
	for _, v := range []string{"127.0.0.1:27395", "prometheus.example.org", "ftp://prometheus.example.org", "http://", "http://%zz", ""} {
		want := fmt.Sprintf(`--prometheus %q is not a URL: give Prometheus's base URL with its scheme, such as http://127.0.0.1:27395`, v)
		if err := CheckBaseURL("--prometheus", v, "Prometheus's", "127.0.0.1:27395"); !errors.Is(err, ErrUsage) || err.Error() != want {
			t.Errorf("%q: %v; want a usage error saying %s", v, err, want)
		}
	}
	if err := CheckGatewayURL("--url", "gateway"); err == nil || err.Error() != `--url "gateway" is not a URL: give the gateway's base URL with its scheme, such as http://`+DefaultGatewayAddr() {
		t.Errorf("CheckGatewayURL: %v", err)
	}
	if err := CheckExplorerURL("--explorer-url", "explorer"); err == nil || err.Error() != `--explorer-url "explorer" is not a URL: give the explorer's base URL with its scheme, such as http://`+DefaultExplorerAddr() {
		t.Errorf("CheckExplorerURL: %v", err)
	}
}

// TestAskGateway: an answer is no error; a gateway that holds the request
// past the limit is named with the limit and its flags; one that refuses
// the connection is named with make up; an error of the answer's own (not
// a transport's) is kept as it is. The first two are logmonitor.ErrNoAnswer,
// the last is not.
func TestAskGateway(t *testing.T) {
	held := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-r.Context().Done()
		}
	}))
	defer held.Close()
	get := func(path string) func(context.Context) error {
		return func(ctx context.Context) error {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, held.URL+path, nil)
			if err != nil {
				return err
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			return resp.Body.Close()
		}
	}
	ctx := context.Background()
	if err := AskGateway(ctx, held.URL, "--url", time.Second, "--timeout", get("/")); err != nil {
		t.Errorf("an answer: %v", err)
	}
	err := AskGateway(ctx, held.URL, "--url", 50*time.Millisecond, "--timeout", get("/slow"))
	if err == nil || !strings.Contains(err.Error(), held.URL+" did not answer within 50ms") || !strings.Contains(err.Error(), "give --timeout more time, or give --url") {
		t.Errorf("a held request: %v; want the gateway, the limit and the flags named", err)
	}
	if !errors.Is(err, logmonitor.ErrNoAnswer) {
		t.Errorf("a held request: %v is not logmonitor.ErrNoAnswer", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()
	err = AskGateway(ctx, closed, "--gateway", time.Second, "--gateway-timeout", func(ctx context.Context) error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, closed, nil)
		_, err := http.DefaultClient.Do(req)
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "the gateway at "+closed+" did not answer") || !strings.Contains(err.Error(), "`make up`") {
		t.Errorf("a refused connection: %v; want the gateway named with make up", err)
	}
	if !errors.Is(err, logmonitor.ErrNoAnswer) {
		t.Errorf("a refused connection: %v is not logmonitor.ErrNoAnswer", err)
	}
	own := errors.New("gateway answered 404")
	if err := AskGateway(ctx, held.URL, "--url", time.Second, "--timeout", func(context.Context) error { return own }); err != own || errors.Is(err, logmonitor.ErrNoAnswer) {
		t.Errorf("an answer's own error: %v; want it as it is, not logmonitor.ErrNoAnswer", err)
	}
}

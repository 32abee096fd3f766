package monitor

import (
	"errors"
	"io"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/votechain/votechain/internal/redisserver"
	"github.com/votechain/votechain/internal/redistest"
	"github.com/votechain/votechain/internal/testport"
)

// TestClusterConfig: with a Redis Cluster's nodes the redis job scrapes
// each node through the exporter's /scrape endpoint, and promtool accepts it.
func TestClusterConfig(t *testing.T) {
	c := testConfig(t)
	c.RedisAddrs = []string{"127.0.0.1:20379", "127.0.0.1:20400", "127.0.0.1:20401"}
	if _, err := c.Write(); err != nil {
		t.Fatal(err)
	}
	pc := checkedConfig(t, c.Dir)
	var redisJobs []scrapeConfig
	for _, j := range pc.ScrapeConfigs {
		if j.JobName == "redis" {
			redisJobs = append(redisJobs, j)
		}
	}
	if len(redisJobs) != 1 || redisJobs[0].MetricsPath != "/scrape" || len(redisJobs[0].StaticConfigs) != 1 ||
		strings.Join(redisJobs[0].StaticConfigs[0].Targets, ",") != "redis://127.0.0.1:20379,redis://127.0.0.1:20400,redis://127.0.0.1:20401" {
		t.Fatalf("redis jobs for a cluster: %+v", redisJobs)
	}
}

// TestExporterScrapesEveryClusterNode starts a real Redis Cluster (3
// masters, a replica each) and prometheus-redis-exporter as the stack runs
// it, and scrapes every node through /scrape with the exporter's own ACL
// user: each answers redis_up 1, and the six report three masters and three
// replicas.
func TestExporterScrapesEveryClusterNode(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Redis Cluster and the exporter: skipped under -short")
	}
	rc := redistest.StartCluster(t, 3)
	var addrs []string
	for _, n := range rc.Nodes {
		addrs = append(addrs, n.Addr)
	}
	if err := rc.ACL.Ensure(nil, addrs...); err != nil {
		t.Fatal(err)
	}
	port := testport.Ports(t, 1)[0] // the exporter's: below the ephemeral range, no other test's
	c := Config{ExporterPort: port, RedisAddrs: addrs, RedisUser: redisserver.UserExporter,
		RedisPasswordFile: rc.ACL.ExporterPasswordFile()}
	spec := c.Processes()[0]
	if _, err := exec.LookPath(spec.Bin); err != nil {
		t.Fatal("prometheus-redis-exporter not found: install it with `make deps-run`")
	}
	cmd := exec.Command(spec.Bin, spec.Args...)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	roles := map[string]int{}
	for _, a := range addrs {
		body := scrape(t, "http://127.0.0.1:"+strconv.Itoa(port)+"/scrape?target=redis://"+a)
		if !strings.Contains(body, "\nredis_up 1\n") {
			t.Fatalf("node %s: no redis_up 1 in the exporter's answer", a)
		}
		for _, role := range []string{"master", "slave"} {
			if strings.Contains(body, `role="`+role+`"`) {
				roles[role]++
			}
		}
	}
	if roles["master"] != 3 || roles["slave"] != 3 {
		t.Errorf("roles seen through the exporter: %v; want 3 masters and 3 replicas", roles)
	}
}

// exporterWait is how long scrape waits for the exporter, a real process
// starting in the background: generous, as a wait that ends costs
// nothing, and CI runs two test binaries on two cores, where a starved
// process can take seconds to start.
const exporterWait = time.Minute

// scrape GETs url until the exporter answers 200 (it starts in the
// background), for up to exporterWait.
func scrape(t *testing.T, url string) string {
	t.Helper()
	deadline := time.Now().Add(exporterWait)
	for {
		resp, err := http.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return string(body)
			}
			err = errors.New(resp.Status)
		}
		if time.Now().After(deadline) {
			t.Fatalf("scrape %s: %v", url, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

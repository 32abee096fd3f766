// Package monitor runs the system's monitoring: a Prometheus that scrapes
// every Votechain process and Fabric node and evaluates the alert rules in
// config/prometheus/alerts.yml, and prometheus-redis-exporter for Redis
// (both Debian packages, see scripts/install-deps.sh). Its configuration is
// generated from the list of targets the caller derives from the port plan,
// so it follows any port base and any number of gateways and batchers. It
// also holds the client of Prometheus's HTTP API and the dashboard panels
// (config/grafana/votechain.json) that the explorer's operator page draws.
package monitor

import (
	"bytes"
	"cmp"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/votechain/votechain/config"
	"github.com/votechain/votechain/internal/proc"
)

// Process names of the monitoring processes, as the stack lists them.
const (
	PrometheusProcess = "prometheus"
	ExporterProcess   = "redis-exporter"
)

// Target is one process Prometheus scrapes at http://Addr:Port/metrics.
type Target struct {
	Job      string // what it is: "gateway", "batcher", "explorer", "peer", "orderer"
	Instance string // which one: the process name, "batcher0", "peer.Commission"
	Addr     string // its host's address; empty for 127.0.0.1
	Port     int
}

// hostPort is addr:port, addr defaulting to 127.0.0.1.
func hostPort(addr string, port int) string {
	return net.JoinHostPort(cmp.Or(addr, "127.0.0.1"), strconv.Itoa(port))
}

// Options tune the monitoring; zero values take the defaults.
type Options struct {
	// Interval is the scrape and rule evaluation interval (default 5 s).
	Interval time.Duration
	// Overrides change alert rules, for tests that cannot wait for the
	// production thresholds.
	Overrides []Override
}

// Config is the monitoring of one system.
type Config struct {
	Options
	Dir          string // prometheus.yml, alerts.yml and the TSDB (data/)
	Addr         string // where Prometheus and the exporter listen; empty for 127.0.0.1
	Port         int    // Prometheus's HTTP port on Addr
	ExporterPort int    // prometheus-redis-exporter's port
	// RedisAddrs are the host:port of the Redis server, or of every node of
	// a Redis Cluster. One server is scraped through the exporter's
	// /metrics (instance "redis"); a cluster's nodes through its /scrape
	// endpoint, one target each (instance "redis-<host:port>").
	RedisAddrs []string
	// RedisUser and RedisPasswordFile are the exporter's Redis ACL user and
	// its password file (the exporter's JSON map of Redis URI to password,
	// redisserver.ACL.ExporterPasswordFile); none if empty.
	RedisUser         string
	RedisPasswordFile string
	Targets           []Target
}

func (c Config) interval() time.Duration { return cmp.Or(c.Interval, 5*time.Second) }

// Binaries finds prometheus and prometheus-redis-exporter on PATH.
func Binaries() (prometheus, exporter string, err error) {
	prometheus, err1 := exec.LookPath("prometheus")
	exporter, err2 := exec.LookPath("prometheus-redis-exporter")
	if err1 != nil || err2 != nil {
		return "", "", errors.New("prometheus or prometheus-redis-exporter not found: install them with `make deps-run` (Debian packages prometheus and prometheus-redis-exporter)")
	}
	return prometheus, exporter, nil
}

// Processes are the exporter and Prometheus, in start order. Binaries that
// are not installed are named by their plain name, so the caller's start
// reports them missing.
func (c Config) Processes() []proc.Spec {
	prom, exporter, err := Binaries()
	if err != nil {
		prom, exporter = "prometheus", "prometheus-redis-exporter"
	}
	return []proc.Spec{{
		Name: ExporterProcess, Bin: exporter, Port: c.ExporterPort, Addr: c.Addr,
		Args: []string{
			"-redis.addr", "redis://" + c.RedisAddrs[0],
			"-web.listen-address", hostPort(c.Addr, c.ExporterPort),
			"-include-system-metrics", "-redis-only-metrics",
			"-redis.user", c.RedisUser, "-redis.password-file", c.RedisPasswordFile,
		},
	}, {
		Name: PrometheusProcess, Bin: prom, Port: c.Port, Addr: c.Addr, Dir: c.Dir,
		Args: []string{
			"--config.file", filepath.Join(c.Dir, "prometheus.yml"),
			"--storage.tsdb.path", filepath.Join(c.Dir, "data"),
			"--web.listen-address", hostPort(c.Addr, c.Port),
		},
	}}
}

// scrapeConfig is one job of prometheus.yml.
type scrapeConfig struct {
	JobName        string          `yaml:"job_name"`
	MetricsPath    string          `yaml:"metrics_path,omitempty"`
	StaticConfigs  []staticConfig  `yaml:"static_configs"`
	RelabelConfigs []relabelConfig `yaml:"relabel_configs,omitempty"`
}

// relabelConfig is one relabelling step of a job.
type relabelConfig struct {
	SourceLabels []string `yaml:"source_labels,omitempty"`
	Regex        string   `yaml:"regex,omitempty"`
	TargetLabel  string   `yaml:"target_label"`
	Replacement  string   `yaml:"replacement,omitempty"`
}

type staticConfig struct {
	Targets []string          `yaml:"targets"`
	Labels  map[string]string `yaml:"labels"`
}

// promConfig is the part of prometheus.yml the monitor writes.
type promConfig struct {
	Global struct {
		ScrapeInterval     string `yaml:"scrape_interval"`
		EvaluationInterval string `yaml:"evaluation_interval"`
	} `yaml:"global"`
	RuleFiles     []string       `yaml:"rule_files"`
	ScrapeConfigs []scrapeConfig `yaml:"scrape_configs"`
}

// Jobs are the scrape targets grouped by job in first-seen order, with
// Redis (through the exporter) and Prometheus itself added.
func (c Config) jobs() []scrapeConfig {
	all := append([]Target(nil), c.Targets...)
	if len(c.RedisAddrs) == 1 {
		all = append(all, Target{Job: "redis", Instance: "redis", Addr: c.Addr, Port: c.ExporterPort})
	}
	all = append(all, Target{Job: "prometheus", Instance: PrometheusProcess, Addr: c.Addr, Port: c.Port})
	var jobs []scrapeConfig
	at := map[string]int{}
	for _, t := range all {
		i, ok := at[t.Job]
		if !ok {
			i = len(jobs)
			at[t.Job] = i
			jobs = append(jobs, scrapeConfig{JobName: t.Job})
		}
		jobs[i].StaticConfigs = append(jobs[i].StaticConfigs, staticConfig{
			Targets: []string{hostPort(t.Addr, t.Port)},
			Labels:  map[string]string{"instance": t.Instance},
		})
	}
	if len(c.RedisAddrs) > 1 {
		jobs = append(jobs, c.clusterJob())
	}
	return jobs
}

// clusterJob scrapes every node of a Redis Cluster through the exporter's
// multi-target endpoint: the node's URI is the target, passed to the
// exporter as ?target=, and names the instance.
func (c Config) clusterJob() scrapeConfig {
	var uris []string
	for _, a := range c.RedisAddrs {
		uris = append(uris, "redis://"+a)
	}
	return scrapeConfig{
		JobName: "redis", MetricsPath: "/scrape",
		StaticConfigs: []staticConfig{{Targets: uris}},
		RelabelConfigs: []relabelConfig{
			{SourceLabels: []string{"__address__"}, TargetLabel: "__param_target"},
			{SourceLabels: []string{"__param_target"}, Regex: "redis://(.*)", TargetLabel: "instance", Replacement: "redis-$1"},
			{TargetLabel: "__address__", Replacement: hostPort(c.Addr, c.ExporterPort)},
		},
	}
}

// Write writes prometheus.yml and alerts.yml into Dir. It reports whether
// either changed, so a running Prometheus can be told to reload.
func (c Config) Write() (changed bool, err error) {
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return false, err
	}
	rules, err := Rules(config.AlertRules(), c.Overrides)
	if err != nil {
		return false, err
	}
	var pc promConfig
	iv := model(c.interval())
	pc.Global.ScrapeInterval, pc.Global.EvaluationInterval = iv, iv
	pc.RuleFiles = []string{"alerts.yml"}
	pc.ScrapeConfigs = c.jobs()
	conf, err := yaml.Marshal(pc)
	if err != nil {
		return false, err
	}
	conf = append([]byte("# Generated by Votechain (internal/monitor) from the port plan; rewritten by every `make up`.\n"), conf...)
	for name, data := range map[string][]byte{"prometheus.yml": conf, "alerts.yml": rules} {
		path := filepath.Join(c.Dir, name)
		if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
			continue
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return false, err
		}
		changed = true
	}
	return changed, nil
}

// model formats d as a Prometheus duration ("5s", "1500ms").
func model(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
}

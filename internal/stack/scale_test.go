package stack

import (
	"strings"
	"testing"
)

// TestResolveShape: zero fields come from the recorded shape, else the
// defaults; a system cannot change its kind of Redis; numbers are bounded.
func TestResolveShape(t *testing.T) {
	cfg := Config{}
	if err := resolveShape(&cfg, nil); err != nil || cfg.Gateways != 1 || cfg.Batchers != 1 || cfg.Redis != RedisSingle {
		t.Fatalf("defaults: %+v, %v; want one gateway, one batcher, a single Redis", cfg, err)
	}
	rec := &shape{Gateways: 2, Batchers: 3, Redis: RedisCluster}
	cfg = Config{Batchers: 1}
	if err := resolveShape(&cfg, rec); err != nil || cfg.Gateways != 2 || cfg.Batchers != 1 || cfg.Redis != RedisCluster {
		t.Fatalf("from the record: %+v, %v; want 2 gateways, the given 1 batcher, the cluster", cfg, err)
	}
	cfg = Config{Redis: RedisSingle}
	if err := resolveShape(&cfg, rec); err == nil || !strings.Contains(err.Error(), "WIPE=1") {
		t.Errorf("a cluster system turned single: %v; want a refusal saying to wipe", err)
	}
	for _, bad := range []Config{{Gateways: maxScale + 1}, {Batchers: maxScale + 1}, {Redis: "sentinel"}} {
		if err := resolveShape(&bad, nil); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

// TestHAProxyConfig: HAProxy listens on the gateway's address, checks every
// gateway's /readyz and never re-sends a request a gateway took.
func TestHAProxyConfig(t *testing.T) {
	cfg := HAProxyConfig(27380, []int{27360, 27361})
	for _, want := range []string{
		"bind 127.0.0.1:27380",
		"option httpchk GET /readyz",
		"server gateway0 127.0.0.1:27360 check",
		"server gateway1 127.0.0.1:27361 check",
		"option redispatch",
	} {
		if !strings.Contains(cfg, want) {
			t.Errorf("configuration lacks %q:\n%s", want, cfg)
		}
	}
	if strings.Contains(cfg, "retry-on") {
		t.Error("retry-on would re-send requests a gateway may have stored")
	}
}

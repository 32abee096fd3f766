package stack

import (
	"fmt"
	"slices"
	"testing"

	"github.com/votechain/votechain/network"
)

// TestMonitorFollowsThePortPlan: Prometheus scrapes each batcher, the
// gateway, the explorer and every Fabric node's operations port of the
// system's port base, and the monitoring processes are stopped with the rest.
func TestMonitorFollowsThePortPlan(t *testing.T) {
	dir := t.TempDir()
	s, err := New(Config{Dir: dir, PortBase: planBase, BinDir: dir, FabricBin: dir, Builder: dir, Election: dir, Batchers: 3})
	if err != nil {
		t.Fatal(err)
	}
	m := s.monitor()
	var got []string
	for _, tg := range m.Targets {
		got = append(got, fmt.Sprintf("%s/%s:%d", tg.Job, tg.Instance, tg.Port))
	}
	want := []string{fmt.Sprintf("batcher/batcher0:%d", planBase+381), fmt.Sprintf("batcher/batcher1:%d", planBase+382),
		fmt.Sprintf("batcher/batcher2:%d", planBase+383), fmt.Sprintf("gateway/gateway:%d", planBase+380), fmt.Sprintf("explorer/explorer:%d", planBase+390)}
	nodes := 0
	for _, np := range s.ports.NetworkPorts() {
		if np.Role == "operations" {
			nodes++
			job := "orderer"
			if np.Process == network.PeerProcess(network.Commission) || np.Process == network.PeerProcess(network.Observers) {
				job = "peer"
			}
			want = append(want, fmt.Sprintf("%s/%s:%d", job, np.Process, np.Port))
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) || nodes != network.OrdererCount+len(network.PeerOrgs()) {
		t.Errorf("targets\n  %v\nwant\n  %v", got, want)
	}
	if m.Port != planBase+395 || m.ExporterPort != planBase+396 || !slices.Equal(m.RedisAddrs, []string{fmt.Sprintf("127.0.0.1:%d", planBase+379)}) {
		t.Errorf("prometheus :%d, exporter :%d for %v", m.Port, m.ExporterPort, m.RedisAddrs)
	}
	var names []string
	for _, sp := range s.services() {
		names = append(names, sp.Name)
	}
	if want := []string{"redis", "redis-exporter", "batcher0", "batcher1", "batcher2", "gateway", "explorer", "prometheus"}; !slices.Equal(names, want) {
		t.Errorf("services %v, want %v", names, want)
	}
}

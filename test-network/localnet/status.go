package localnet

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/votechain/votechain/internal/proc"
	"github.com/votechain/votechain/network"
)

// ProcessStatus describes one process of the instance.
type ProcessStatus struct {
	Name    string `json:"name"`
	PID     int    `json:"pid,omitempty"`
	Running bool   `json:"running"`
	Note    string `json:"note,omitempty"` // why a recorded process does not run (proc.Why)
	Port    int    `json:"port"`
	Addr    string `json:"addr"`             // where it listens: its host's address and Port
	Height  int64  `json:"height,omitempty"` // blocks on the election channel, from the node's metrics
	Leader  bool   `json:"leader,omitempty"` // orderers only: the Raft leader, or the SmartBFT leader as of its last block written
	Log     string `json:"log"`
}

// Status is the state of the instance.
type Status struct {
	Dir       string            `json:"dir"`
	PortBase  int               `json:"port_base"`
	Consensus network.Consensus `json:"consensus"`
	Created   bool              `json:"created"`
	Hosts     []network.Host    `json:"hosts"` // network.Placement.Hosts
	Chaincode string            `json:"chaincode"`
	Sequence  int64             `json:"sequence"`
	Processes []ProcessStatus   `json:"processes"`
}

// Status reports what runs, on which ports, and each node's block height.
func (n *Network) Status(ctx context.Context) Status {
	st := Status{Dir: n.cfg.Dir, PortBase: n.state.PortBase, Consensus: n.state.Consensus, Created: n.state.Created,
		Chaincode: n.state.Chaincode.Label, Sequence: n.state.Chaincode.Sequence, Hosts: n.Hosts().Hosts()}
	procs := n.processes()
	names := n.processNames()
	opsAddrs := n.operationsAddrs()
	for _, name := range names {
		p := procs[name]
		id := n.state.PIDs[name]
		ps := ProcessStatus{Name: name, PID: id.PID, Port: p.Port, Addr: p.ListenAddr(), Log: n.layout.Log(name)}
		ps.Note = proc.Why(id, p.Bin)
		ps.Running = id.PID > 0 && ps.Note == ""
		if ops, ok := opsAddrs[name]; ok && ps.Running {
			metrics := scrape(ctx, ops)
			ps.Height = int64(metrics["ledger_blockchain_height"])
			ps.Leader = isLeader(metrics)
		}
		st.Processes = append(st.Processes, ps)
	}
	return st
}

// isLeader reports whether an orderer's gauges say it leads the channel.
func isLeader(metrics map[string]float64) bool {
	return metrics["consensus_etcdraft_is_leader"] == 1 || metrics["consensus_BFT_is_leader"] == 1
}

// operationsAddrs maps node process names to their operations (metrics)
// address, host:port.
func (n *Network) operationsAddrs() map[string]string {
	out := map[string]string{}
	addrs := n.nodeAddrs()
	for _, np := range n.ports.NetworkPorts() {
		if np.Role == "operations" {
			out[np.Process] = net.JoinHostPort(addrs[np.Process], strconv.Itoa(np.Port))
		}
	}
	return out
}

// scrape reads the election channel's gauges from a node's Prometheus
// endpoint at addr (host:port).
func scrape(ctx context.Context, addr string) map[string]float64 {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	return parseGauges(resp.Body, `channel="election"`)
}

// parseGauges picks the samples whose labels contain match from Prometheus
// text format, keyed by metric name.
func parseGauges(r io.Reader, match string) map[string]float64 {
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || !strings.Contains(line, match) {
			continue
		}
		name, rest, ok := strings.Cut(line, "{")
		if !ok {
			continue
		}
		_, value, ok := strings.Cut(rest, "} ")
		if !ok {
			continue
		}
		if v, err := strconv.ParseFloat(strings.TrimSpace(value), 64); err == nil {
			out[name] = v
		}
	}
	return out
}

// Print writes the status as a table.
func (st Status) Print(w io.Writer) {
	fmt.Fprintf(w, "network in %s (port base %d, consensus %s)\n", st.Dir, st.PortBase, st.Consensus)
	if !st.Created {
		fmt.Fprintf(w, "not created: run %s\n", Tool().Command(st.Dir, st.PortBase, "up"))
	}
	if len(st.Hosts) > 1 {
		var hosts []string
		for _, h := range st.Hosts {
			hosts = append(hosts, h.Name+" "+h.Addr)
		}
		fmt.Fprintf(w, "hosts: %s\n", strings.Join(hosts, ", "))
	}
	fmt.Fprintf(w, "chaincode %s, sequence %d\n\n", st.Chaincode, st.Sequence)
	fmt.Fprintf(w, "%-18s %-8s %-8s %-6s %-7s %s\n", "PROCESS", "STATE", "PID", "PORT", "HEIGHT", "LOG")
	for _, p := range st.Processes {
		state := "stopped"
		if p.Running {
			state = "running"
		}
		height := "-"
		if p.Height > 0 {
			height = strconv.FormatInt(p.Height, 10)
			if p.Leader {
				height += "*"
			}
		}
		fmt.Fprintf(w, "%-18s %-8s %-8d %-6d %-7s %s\n", p.Name, state, p.PID, p.Port, height, p.Log)
		if p.Note != "" {
			fmt.Fprintf(w, "%-18s   (%s)\n", "", p.Note)
		}
	}
}

package network

import "testing"

// TestPortsContains: every port of the plan, for the highest base Validate
// accepts, lies in Contains's range, and that range ends below 65536; the
// ports just below the base and at base+400 do not.
func TestPortsContains(t *testing.T) {
	p := Ports{Base: 65000}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	ports := append(p.NetworkPorts(), p.PprofPorts()...)
	for i := range PeerOrgs() {
		ports = append(ports, NamedPort{"chaincode", "slot 0", p.ChaincodeServer(i, 0)}, NamedPort{"chaincode", "slot 1", p.ChaincodeServer(i, 1)})
	}
	ports = append(ports, NamedPort{"redis", "", p.Redis()}, NamedPort{"gateway", "", p.Gateway()}, NamedPort{"explorer", "", p.Explorer()},
		NamedPort{"prometheus", "", p.Prometheus()}, NamedPort{"redis-exporter", "", p.RedisExporter()})
	for _, np := range ports {
		if !p.Contains(np.Port) || np.Port > 65535 {
			t.Errorf("%s %s port %d: Contains false or past 65535", np.Process, np.Role, np.Port)
		}
	}
	if p.Contains(p.Base-1) || p.Contains(p.Base+400) || !p.Contains(p.Base+399) || p.Last() != p.Base+399 || p.Base+399 > 65535 {
		t.Errorf("Ports{%d}.Contains: wrong bounds (want %d..%d)", p.Base, p.Base, p.Base+399)
	}
}

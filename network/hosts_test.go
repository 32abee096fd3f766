package network

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

var spreadAddrs = []string{"10.213.7.2", "10.213.7.3", "10.213.7.4"}

func spread(t *testing.T) Placement {
	t.Helper()
	p, err := Spread(spreadAddrs...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestOneHostPutsEveryNodeOnLoopback(t *testing.T) {
	p := OneHost()
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	if hosts := p.Hosts(); len(hosts) != 1 || hosts[0] != LocalHost() {
		t.Fatalf("hosts %v, want only %v", hosts, LocalHost())
	}
	for i := 0; i < OrdererCount; i++ {
		if got := p.Orderer(i).Join(7050); got != "127.0.0.1:7050" {
			t.Errorf("orderer %d at %s", i, got)
		}
	}
	if got := LocalHost().SANs(); strings.Join(got, ",") != "localhost,127.0.0.1" {
		t.Errorf("local SANs %v", got)
	}
}

func TestSpreadPlacesEachOrganisationOnItsHost(t *testing.T) {
	p := spread(t)
	want := []string{"commission=10.213.7.2", "observers=10.213.7.3", "clients=10.213.7.4"}
	var got []string
	for _, h := range p.Hosts() {
		got = append(got, h.Name+"="+h.Addr)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("hosts %v, want %v", got, want)
	}
	for i := 0; i < OrdererCount; i++ {
		if p.Orderer(i) != p.Org(OrdererOrg(i)) {
			t.Errorf("orderer %d on %v, its organisation on %v", i, p.Orderer(i), p.Org(OrdererOrg(i)))
		}
	}
	if sans := p.Org(Observers).SANs(); strings.Join(sans, ",") != "observers,10.213.7.3" {
		t.Errorf("observers SANs %v", sans)
	}
	for i := 0; i < OrdererCount; i++ {
		if h, ok := p.Process(OrdererProcess(i)); !ok || h != p.Orderer(i) {
			t.Errorf("process %s on %v %v, want %v", OrdererProcess(i), h, ok, p.Orderer(i))
		}
	}
	for _, o := range PeerOrgs() {
		for _, name := range []string{PeerProcess(o), ChaincodeProcess(o)} {
			if h, ok := p.Process(name); !ok || h != p.Org(o) {
				t.Errorf("process %s on %v %v, want %v", name, h, ok, p.Org(o))
			}
		}
	}
	if h, ok := p.Process("gateway"); ok {
		t.Errorf("gateway placed by the consortium's placement on %v", h)
	}
}

func TestPlacementValidate(t *testing.T) {
	if _, err := Spread("10.0.0.1"); err == nil {
		t.Error("Spread with one address accepted")
	}
	if _, err := Spread("10.0.0.1", "not-an-ip", "10.0.0.3"); err == nil {
		t.Error("an address that is not an IP accepted")
	}
	p := spread(t)
	delete(p.Orgs, "Observers")
	if err := p.Validate(); err == nil || !strings.Contains(err.Error(), "Observers") {
		t.Errorf("missing organisation: %v", err)
	}
	p = spread(t)
	p.Clients = Host{Name: "commission", Addr: "10.213.7.9"}
	if err := p.Validate(); err == nil || !strings.Contains(err.Error(), "two addresses") {
		t.Errorf("one name with two addresses: %v", err)
	}
	p = spread(t)
	p.Clients.Name = "Clients_1"
	if err := p.Validate(); err == nil {
		t.Error("a host name with upper case and underscore accepted")
	}
}

// With the organisations on hosts of their own, nothing the network
// generates names the loopback address, and every node listens and is
// dialled at its own host's address.
func TestSpreadNetworkFilesUseHostAddresses(t *testing.T) {
	p := spread(t)
	ports := Ports{Base: DefaultPortBase}
	l := Layout{Dir: t.TempDir()}
	for _, consensus := range []Consensus{BFT, Raft} {
		if err := WriteConfigtx(l, ports, p, consensus); err != nil {
			t.Fatal(err)
		}
		text := readText(t, filepath.Join(l.ConfigtxDir(), "configtx.yaml"))
		mustNotLoopback(t, "configtx "+string(consensus), text)
		for i := 0; i < OrdererCount; i++ {
			listen, _, _ := ports.Orderer(i)
			if !strings.Contains(text, p.Orderer(i).Join(listen)) {
				t.Errorf("configtx (%s) lacks orderer %d's endpoint %s", consensus, i, p.Orderer(i).Join(listen))
			}
		}
	}
	if err := WriteCryptoConfig(l, p); err != nil {
		t.Fatal(err)
	}
	crypto := readText(t, l.CryptoConfig())
	mustNotLoopback(t, "crypto-config", crypto)
	for _, h := range p.Hosts()[:len(PeerOrgs())] {
		if !strings.Contains(crypto, h.Addr) || !strings.Contains(crypto, "- "+h.Name) {
			t.Errorf("crypto-config names neither %s nor %s as a SAN:\n%s", h.Name, h.Addr, crypto)
		}
	}
	for i := range PeerOrgs() {
		settings := PeerSettings(l, ports, p, i, "/builder")
		mustNotLoopback(t, "core.yaml of "+PeerOrgs()[i].Name, yamlText(t, settings))
		listen, _, _ := ports.Peer(i)
		if settings["peer.address"] != p.Peer(i).Join(listen) {
			t.Errorf("peer %d address %v", i, settings["peer.address"])
		}
		if n, _ := settings["ledger.state.totalQueryLimit"].(int); n <= 100_000 {
			t.Errorf("peer %d: a range query's results capped at %v, not above Fabric's 100,000", i, settings["ledger.state.totalQueryLimit"])
		}
	}
	for i := 0; i < OrdererCount; i++ {
		settings := OrdererSettings(l, ports, p, i)
		mustNotLoopback(t, OrdererProcess(i)+" orderer.yaml", yamlText(t, settings))
		if settings["General.ListenAddress"] != p.Orderer(i).Addr {
			t.Errorf("orderer %d listens on %v", i, settings["General.ListenAddress"])
		}
	}
}

func readText(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func yamlText(t *testing.T, v any) string {
	t.Helper()
	data, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func mustNotLoopback(t *testing.T, what, text string) {
	t.Helper()
	for _, loop := range []string{"127.0.0.1", "localhost"} {
		if strings.Contains(text, loop) {
			t.Errorf("%s names %s", what, loop)
		}
	}
}

func TestParseSpread(t *testing.T) {
	p, err := ParseSpread("clients=10.213.7.4, commission=10.213.7.2,observers=10.213.7.3")
	if err != nil {
		t.Fatal(err)
	}
	if want := spread(t); p.Clients != want.Clients || p.Org(Commission) != want.Org(Commission) || p.Org(Observers) != want.Org(Observers) {
		t.Fatalf("parsed %+v, want %+v", p, want)
	}
	for _, bad := range []string{"", "commission=10.0.0.2,observers=10.0.0.3", "commission=10.0.0.2,observers=10.0.0.3,clients=10.0.0.4,extra=10.0.0.5", "commission:10.0.0.2"} {
		if _, err := ParseSpread(bad); err == nil {
			t.Errorf("ParseSpread(%q) accepted", bad)
		}
	}
}

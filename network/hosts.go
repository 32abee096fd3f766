package network

import (
	"fmt"
	"net"
	"regexp"
	"strings"
)

// Host is one machine of a deployment: a name, which names its bundle
// folder and is written into its nodes' TLS certificates, and the address
// its nodes listen on and are dialled at.
type Host struct {
	Name string `json:"name"` // "commission"
	Addr string `json:"addr"` // "10.213.0.2"
}

// Join is the host's address with a port, "addr:port".
func (h Host) Join(port int) string { return net.JoinHostPort(h.Addr, fmt.Sprint(port)) }

// LocalHost returns the one machine of the default deployment: every node
// on 127.0.0.1.
func LocalHost() Host { return Host{Name: "localhost", Addr: "127.0.0.1"} }

// ClientsHost names the host of the client-side processes in a Placement.
const ClientsHost = "clients"

// Placement puts every node of the consortium on a host: each
// organisation's orderers, peer and chaincode service on the
// organisation's host, and the client-side processes (Redis, gateways,
// batchers, explorer) on the clients' host. Ports stay those of the port
// plan (Ports) on every host.
type Placement struct {
	Orgs    map[string]Host `json:"orgs"` // by organisation name
	Clients Host            `json:"clients"`
}

// OneHost is the default placement: every node on LocalHost.
func OneHost() Placement {
	p := Placement{Orgs: map[string]Host{}, Clients: LocalHost()}
	for _, o := range PeerOrgs() {
		p.Orgs[o.Name] = LocalHost()
	}
	return p
}

// Spread places each organisation and the clients on hosts of their own,
// named after them in lower case ("commission", "observers", "clients"),
// with the given addresses: one per organisation in PeerOrgs order, then
// the clients'.
func Spread(addrs ...string) (Placement, error) {
	orgs := PeerOrgs()
	if len(addrs) != len(orgs)+1 {
		return Placement{}, fmt.Errorf("spread needs %d addresses (one per organisation, then the clients'), got %d", len(orgs)+1, len(addrs))
	}
	p := Placement{Orgs: map[string]Host{}, Clients: Host{Name: ClientsHost, Addr: addrs[len(orgs)]}}
	for i, o := range orgs {
		p.Orgs[o.Name] = Host{Name: o.HostName(), Addr: addrs[i]}
	}
	return p, p.Validate()
}

// ParseSpread reads a Spread placement written as
// "commission=ADDR,observers=ADDR,clients=ADDR" (any order).
func ParseSpread(s string) (Placement, error) {
	byName := map[string]string{}
	for _, part := range strings.Split(s, ",") {
		name, addr, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return Placement{}, fmt.Errorf("hosts %q: write name=address pairs separated by commas, e.g. %s", s, spreadExample())
		}
		byName[name] = addr
	}
	var addrs []string
	for _, name := range append(orgHostNames(), ClientsHost) {
		addr, ok := byName[name]
		if !ok {
			return Placement{}, fmt.Errorf("hosts %q: no address for %s, e.g. %s", s, name, spreadExample())
		}
		delete(byName, name)
		addrs = append(addrs, addr)
	}
	for name := range byName {
		return Placement{}, fmt.Errorf("hosts %q: unknown host %s; the hosts are %s", s, name, strings.Join(append(orgHostNames(), ClientsHost), ", "))
	}
	return Spread(addrs...)
}

func orgHostNames() []string {
	var names []string
	for _, o := range PeerOrgs() {
		names = append(names, o.HostName())
	}
	return names
}

func spreadExample() string {
	var parts []string
	for i, name := range append(orgHostNames(), ClientsHost) {
		parts = append(parts, fmt.Sprintf("%s=10.0.0.%d", name, i+2))
	}
	return strings.Join(parts, ",")
}

// HostName is the name of the organisation's host when it has one of its
// own (Spread): its name in lower case.
func (o Org) HostName() string { return strings.ToLower(o.Name) }

var hostName = regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$`)

// Validate checks that every organisation has a host, that every host has a
// DNS-style name and an IP address, and that one name means one address.
func (p Placement) Validate() error {
	byName := map[string]string{}
	check := func(what string, h Host) error {
		if !hostName.MatchString(h.Name) {
			return fmt.Errorf("%s host name %q: use lower-case letters, digits, dots and dashes", what, h.Name)
		}
		if net.ParseIP(h.Addr) == nil {
			return fmt.Errorf("%s host %s: address %q is not an IP address", what, h.Name, h.Addr)
		}
		if a, ok := byName[h.Name]; ok && a != h.Addr {
			return fmt.Errorf("host %s has two addresses, %s and %s", h.Name, a, h.Addr)
		}
		byName[h.Name] = h.Addr
		return nil
	}
	for _, o := range PeerOrgs() {
		h, ok := p.Orgs[o.Name]
		if !ok {
			return fmt.Errorf("organisation %s has no host", o.Name)
		}
		if err := check(o.Name, h); err != nil {
			return err
		}
	}
	return check("clients", p.Clients)
}

// Org is the host of the organisation's peer, orderers and chaincode service.
func (p Placement) Org(o Org) Host { return p.Orgs[o.Name] }

// Orderer is the host of orderer i.
func (p Placement) Orderer(i int) Host { return p.Org(OrdererOrg(i)) }

// Peer is the host of the i-th organisation's peer and chaincode service.
func (p Placement) Peer(i int) Host { return p.Org(PeerOrgs()[i]) }

// Process is the host of one of the consortium's processes
// (OrdererProcess, PeerProcess, ChaincodeProcess); false for any other name.
func (p Placement) Process(name string) (Host, bool) {
	for i := 0; i < OrdererCount; i++ {
		if name == OrdererProcess(i) {
			return p.Orderer(i), true
		}
	}
	for _, o := range PeerOrgs() {
		if name == PeerProcess(o) || name == ChaincodeProcess(o) {
			return p.Org(o), true
		}
	}
	return Host{}, false
}

// Hosts lists the distinct hosts: the organisations' in PeerOrgs order,
// then the clients'.
func (p Placement) Hosts() []Host {
	var out []Host
	seen := map[string]bool{}
	for _, h := range append(p.orgHosts(), p.Clients) {
		if !seen[h.Name] {
			seen[h.Name] = true
			out = append(out, h)
		}
	}
	return out
}

func (p Placement) orgHosts() []Host {
	var out []Host
	for _, o := range PeerOrgs() {
		out = append(out, p.Org(o))
	}
	return out
}

// SANs are the extra names in the TLS certificates of nodes on h (besides
// the node's own Fabric host name, which cryptogen always adds): on
// LocalHost "localhost" and "127.0.0.1", elsewhere the host's name and
// address.
func (h Host) SANs() []string {
	if h == LocalHost() {
		return []string{"localhost", "127.0.0.1"}
	}
	return []string{h.Name, h.Addr}
}

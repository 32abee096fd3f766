package network

import (
	"fmt"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"
)

// cryptoSpec is the part of cryptogen's input the consortium uses.
type cryptoSpec struct {
	OrdererOrgs []cryptoOrg `yaml:"OrdererOrgs"`
	PeerOrgs    []cryptoOrg `yaml:"PeerOrgs"`
}

type cryptoOrg struct {
	Name          string       `yaml:"Name"`
	Domain        string       `yaml:"Domain"`
	EnableNodeOUs bool         `yaml:"EnableNodeOUs"`
	Specs         []cryptoHost `yaml:"Specs,omitempty"`
	Template      *cryptoCount `yaml:"Template,omitempty"`
	Users         *cryptoCount `yaml:"Users,omitempty"`
}

type cryptoHost struct {
	Hostname string   `yaml:"Hostname"`
	SANS     []string `yaml:"SANS"`
}

type cryptoCount struct {
	Count int      `yaml:"Count"`
	SANS  []string `yaml:"SANS,omitempty"`
}

// WriteCryptoConfig writes cryptogen's input: per organisation, one peer
// (plus Admin and the client users the Components use: User1, User2, ...)
// under its peer MSP and OrderersPerOrg orderers (plus
// Admin) under its orderer MSP, all with node OUs so policies can name peer,
// orderer, client and admin roles. Each node's TLS certificate also names
// its host (Host.SANs), so clients verify it at the address they dial.
func WriteCryptoConfig(l Layout, hosts Placement) error {
	var spec cryptoSpec
	for _, o := range PeerOrgs() {
		ord := cryptoOrg{Name: o.Name + "Orderer", Domain: o.OrdererDomain, EnableNodeOUs: true}
		for i := 0; i < OrdererCount; i++ {
			if OrdererOrg(i) == o {
				ord.Specs = append(ord.Specs, cryptoHost{Hostname: fmt.Sprintf("orderer%d", i), SANS: hosts.Orderer(i).SANs()})
			}
		}
		spec.OrdererOrgs = append(spec.OrdererOrgs, ord)
		spec.PeerOrgs = append(spec.PeerOrgs, cryptoOrg{
			Name: o.Name, Domain: o.Domain, EnableNodeOUs: true,
			Template: &cryptoCount{Count: 1, SANS: hosts.Org(o).SANs()},
			Users:    &cryptoCount{Count: usersOf(o.Name)},
		})
	}
	return writeYAML(l.CryptoConfig(), spec)
}

func writeYAML(path string, v any) error {
	data, err := yaml.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", filepath.Base(path), err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

// WriteTLSRootBundles writes the two TLS root bundles: every peer
// organisation's TLS CA in one PEM file, which peers use as their TLS root so
// that gossip trusts the other organisation from the first connection (with
// only its own CA, a joining peer fails the TLS handshake with the other
// org's anchor peer and gossip retries only after its reconnect interval,
// during which the Fabric Gateway finds no peers to satisfy the endorsement
// policy), and every orderer organisation's TLS CA
// in another, for orderers and the clients that dial any of them.
func WriteTLSRootBundles(l Layout) error {
	var peers, orderers []string
	for _, o := range PeerOrgs() {
		peers = append(peers, l.PeerTLSCA(o))
		orderers = append(orderers, l.OrdererTLSCA(o))
	}
	if err := concatFiles(l.TLSRootBundle(), peers); err != nil {
		return err
	}
	return concatFiles(l.OrdererTLSRoots(), orderers)
}

func concatFiles(dst string, srcs []string) error {
	var out []byte
	for _, src := range srcs {
		data, err := os.ReadFile(src)
		if err != nil {
			return fmt.Errorf("read TLS CA: %w", err)
		}
		out = append(out, data...)
	}
	return os.WriteFile(dst, out, 0o644)
}

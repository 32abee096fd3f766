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

// loopbackSANs lets clients verify node certificates when dialling 127.0.0.1.
var loopbackSANs = []string{"localhost", "127.0.0.1"}

// WriteCryptoConfig writes cryptogen's input: the orderer organisation with
// three orderers and one peer (plus Admin and User1) per peer organisation,
// all with node OUs so policies can name peer, client and admin roles.
func WriteCryptoConfig(l Layout) error {
	spec := cryptoSpec{OrdererOrgs: []cryptoOrg{{
		Name: "Orderer", Domain: OrdererDomain, EnableNodeOUs: true,
	}}}
	for i := 0; i < OrdererCount; i++ {
		spec.OrdererOrgs[0].Specs = append(spec.OrdererOrgs[0].Specs,
			cryptoHost{Hostname: fmt.Sprintf("orderer%d", i), SANS: loopbackSANs})
	}
	for _, o := range PeerOrgs {
		spec.PeerOrgs = append(spec.PeerOrgs, cryptoOrg{
			Name: o.Name, Domain: o.Domain, EnableNodeOUs: true,
			Template: &cryptoCount{Count: 1, SANS: loopbackSANs},
			Users:    &cryptoCount{Count: 1},
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

// WriteTLSRootBundle concatenates every peer organisation's TLS CA into one
// PEM file. Peers use it as their TLS root so that gossip trusts the other
// organisation from the first connection: with only its own CA, a joining peer
// fails the TLS handshake with the other org's anchor peer and gossip retries
// only after its 25 s reconnect interval, during which the Fabric Gateway finds
// no peers to satisfy the endorsement policy.
func WriteTLSRootBundle(l Layout) error {
	var bundle []byte
	for _, o := range PeerOrgs {
		pem, err := os.ReadFile(l.PeerTLSCA(o))
		if err != nil {
			return fmt.Errorf("read %s TLS CA: %w", o.Name, err)
		}
		bundle = append(bundle, pem...)
	}
	return os.WriteFile(l.TLSRootBundle(), bundle, 0o644)
}

package network

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Profile is the connection profile written at bring-up. The gateway, batcher,
// explorer and tests read it to find peers, TLS roots and identities, so no
// component hard-codes a path or a port.
type Profile struct {
	Channel   string                `json:"channel"`
	Chaincode string                `json:"chaincode"`
	Orgs      map[string]OrgProfile `json:"orgs"` // by organisation name: "Commission", "Observers"
	Orderers  []Endpoint            `json:"orderers"`
	// Consensus is the ordering service's protocol (empty in profiles
	// written before it was recorded: clients then assume Raft's).
	Consensus Consensus `json:"consensus,omitempty"`
}

// OrgProfile is what a client of one organisation needs.
type OrgProfile struct {
	MSPID string              `json:"msp_id"`
	Peer  Endpoint            `json:"peer"`
	Users map[string]Identity `json:"users"` // "Admin", "User1"
}

// Endpoint is a TLS gRPC endpoint.
type Endpoint struct {
	Address    string `json:"address"`     // host:port
	TLSRootPEM string `json:"tls_root"`    // file with the CA that signed the server's TLS certificate
	ServerName string `json:"server_name"` // name to verify the certificate against
}

// Identity is an enrolled user: signing certificate and private key files.
type Identity struct {
	Cert string `json:"cert"`
	Key  string `json:"key"`
}

// BuildProfile describes the network at l with the given ports, hosts and
// consensus: clients dial each node at its host's address and verify its TLS
// certificate against that address (one of its SANs).
func BuildProfile(l Layout, ports Ports, hosts Placement, consensus Consensus) (Profile, error) {
	p := Profile{Channel: ChannelName, Chaincode: ChaincodeName, Orgs: map[string]OrgProfile{}, Consensus: consensus}
	for i, o := range PeerOrgs() {
		listen, _, _ := ports.Peer(i)
		op := OrgProfile{
			MSPID: o.MSPID,
			Peer:  Endpoint{Address: hosts.Peer(i).Join(listen), TLSRootPEM: l.PeerTLSCA(o), ServerName: hosts.Peer(i).Addr},
			Users: map[string]Identity{},
		}
		users := []string{"Admin"}
		for u := 1; u <= usersOf(o.Name); u++ {
			users = append(users, fmt.Sprintf("User%d", u))
		}
		for _, user := range users {
			key, err := singleFile(l.UserKeyDir(o, user))
			if err != nil {
				return Profile{}, fmt.Errorf("%s %s key: %w", o.Name, user, err)
			}
			op.Users[user] = Identity{Cert: l.UserCert(o, user), Key: key}
		}
		p.Orgs[o.Name] = op
	}
	for i := 0; i < OrdererCount; i++ {
		listen, _, _ := ports.Orderer(i)
		h := hosts.Orderer(i)
		p.Orderers = append(p.Orderers, Endpoint{Address: h.Join(listen), TLSRootPEM: l.OrdererTLSCA(OrdererOrg(i)), ServerName: h.Addr})
	}
	return p, nil
}

func singleFile(dir string) (string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	if len(entries) != 1 {
		return "", fmt.Errorf("%s: expected exactly one file, found %d", dir, len(entries))
	}
	return filepath.Join(dir, entries[0].Name()), nil
}

// For returns the profile of component c: every organisation's peer, but
// only c's own identity.
func (p Profile) For(c Component) (Profile, error) {
	out := p
	out.Orgs = map[string]OrgProfile{}
	for name, op := range p.Orgs {
		op.Users = map[string]Identity{}
		if name == c.Org {
			id, ok := p.Orgs[name].Users[c.User]
			if !ok {
				return Profile{}, fmt.Errorf("%s identity %s of %s is not in the profile", c.Name, c.User, c.Org)
			}
			op.Users[c.User] = id
		}
		out.Orgs[name] = op
	}
	return out, nil
}

// SaveComponents writes each component's profile (For) under l.
func (p Profile) SaveComponents(l Layout) error {
	if err := os.MkdirAll(filepath.Dir(l.ComponentProfile("x")), 0o700); err != nil {
		return err
	}
	for _, c := range Components() {
		cp, err := p.For(c)
		if err != nil {
			return err
		}
		if err := cp.Save(l.ComponentProfile(c.Name)); err != nil {
			return err
		}
	}
	return nil
}

// Save writes the profile as JSON.
func (p Profile) Save(path string) error {
	data, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o600) // it names the key files
}

// LoadProfile reads a profile written by the test network. An address of a
// peer or an orderer that cannot be dialled (not HOST:PORT with a port of
// 1..65535) is an error naming the profile and the address: no retry
// could reach it, and gRPC would dial one without a port at port 443.
func LoadProfile(path string) (Profile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Profile{}, fmt.Errorf("read connection profile: %w (is the network up? `make network-up` writes it)", err)
	}
	var p Profile
	if err := json.Unmarshal(data, &p); err != nil {
		return Profile{}, fmt.Errorf("parse connection profile %s: %w", path, err)
	}
	if err := p.checkAddresses(); err != nil {
		return Profile{}, fmt.Errorf("connection profile %s: %w", path, err)
	}
	return p, nil
}

// checkAddresses refuses the first address of a peer or an orderer of p
// that is not HOST:PORT with a port of 1..65535, naming its node.
func (p Profile) checkAddresses() error {
	for _, org := range slices.Sorted(maps.Keys(p.Orgs)) {
		if err := checkDialAddress(p.Orgs[org].Peer.Address); err != nil {
			return fmt.Errorf("the %s peer's address %w", org, err)
		}
	}
	for i, o := range p.Orderers {
		if err := checkDialAddress(o.Address); err != nil {
			return fmt.Errorf("orderer %d's address %w", i, err)
		}
	}
	return nil
}

// checkDialAddress refuses an address that is not HOST:PORT with a port of
// 1..65535; its error begins with the address, quoted.
func checkDialAddress(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return fmt.Errorf("%q is not HOST:PORT", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("%q has port %q: want 1..65535", addr, port)
	}
	return nil
}

// ErrNotInProfile marks an organisation or user a connection profile does
// not hold.
var ErrNotInProfile = errors.New("is not in the connection profile")

// Org returns the named organisation's part of the profile.
func (p Profile) Org(name string) (OrgProfile, error) {
	o, ok := p.Orgs[name]
	if !ok {
		return OrgProfile{}, fmt.Errorf("organisation %q %w (%s)", name, ErrNotInProfile, holds(p.Orgs, "organisation"))
	}
	return o, nil
}

// User returns the identity of user of organisation org in the profile.
func (p Profile) User(org, user string) (Identity, error) {
	o, err := p.Org(org)
	if err != nil {
		return Identity{}, err
	}
	id, ok := o.Users[user]
	if !ok {
		return Identity{}, fmt.Errorf("user %q of %s %w (%s)", user, org, ErrNotInProfile, holds(o.Users, "user of "+org))
	}
	return id, nil
}

// holds says which names a part of a profile holds, as "it holds A, B",
// or "it holds no WHAT" when it holds none.
func holds[V any](m map[string]V, what string) string {
	if len(m) == 0 {
		return "it holds no " + what
	}
	return "it holds " + strings.Join(slices.Sorted(maps.Keys(m)), ", ")
}

package network

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Component is a process that acts on the ledger under its own enrolled
// identity (least privilege): it receives a connection profile holding only
// that identity (Layout.ComponentProfile). cryptogen names users User1,
// User2, ... per organisation; this table maps them to components.
type Component struct {
	Name string // "batcher": its profile is profiles/batcher.json
	Org  string // organisation whose peer and CA it uses
	User string // enrolled user of Org
}

// The components' identities. Only the batcher's may commit batches (the
// election record names it, see ballot.Election.Batchers); the gateway's
// and the explorer's can only evaluate; the Commission's admin sets the
// election up, closes and finalises it.
var (
	Batcher  = Component{Name: "batcher", Org: "Commission", User: "User1"}
	Gateway  = Component{Name: "gateway", Org: "Commission", User: "User2"}
	Explorer = Component{Name: "explorer", Org: "Observers", User: "User1"} // also roll and verify, which only read
	Admin    = Component{Name: "admin", Org: "Commission", User: "Admin"}
)

// CommonName is the subject common name of the component's certificate as
// cryptogen issues it, "User1@commission.votechain.test": the name an
// election record's batchers list uses. CommonName reads it from the file.
func (c Component) CommonName() string {
	for _, o := range PeerOrgs() {
		if o.Name == c.Org {
			return c.User + "@" + o.Domain
		}
	}
	return ""
}

// Components lists every component with an identity (Batcher, Gateway,
// Explorer, Admin, as those variables are at the call) in a new slice at
// each call, so a caller's edit of the slice does not reach the others;
// it does not guard the four variables themselves.
func Components() []Component { return []Component{Batcher, Gateway, Explorer, Admin} }

// usersOf returns the client users (User1..UserN) cryptogen must make for
// an organisation: as many as the highest one a component uses.
func usersOf(org string) int {
	n := 1
	for _, c := range Components() {
		var i int
		if c.Org == org && strings.HasPrefix(c.User, "User") {
			fmt.Sscanf(c.User, "User%d", &i)
		}
		n = max(n, i)
	}
	return n
}

// CommonName reads the subject common name of a PEM certificate file (the
// name an election record lists batchers by).
func CommonName(certFile string) (string, error) {
	data, err := os.ReadFile(certFile)
	if err != nil {
		return "", err
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return "", fmt.Errorf("%s holds no PEM certificate", certFile)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return "", fmt.Errorf("parse %s: %w", certFile, err)
	}
	return cert.Subject.CommonName, nil
}

// RestrictKeys makes every private key cryptogen wrote (keystore files and
// TLS *.key files) readable by its owner only (0600).
func RestrictKeys(l Layout) error {
	return filepath.WalkDir(l.Crypto(), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if filepath.Base(filepath.Dir(path)) == "keystore" || strings.HasSuffix(path, ".key") {
			return os.Chmod(path, 0o600)
		}
		return nil
	})
}

package network

import (
	"fmt"
	"path/filepath"
)

// Layout names every file and folder of one network instance under its run
// directory, so no other code builds these paths by hand.
type Layout struct{ Dir string }

func (l Layout) path(elem ...string) string {
	return filepath.Join(append([]string{l.Dir}, elem...)...)
}

// Generated inputs and shared artefacts.
func (l Layout) CryptoConfig() string { return l.path("config", "crypto-config.yaml") }
func (l Layout) ConfigtxDir() string  { return l.path("config") }
func (l Layout) GenesisBlock() string { return l.path("config", ChannelName+".block") }
func (l Layout) TLSRootBundle() string {
	return l.path("config", "peer-tls-roots.pem")
}
func (l Layout) Profile() string { return l.path("profile.json") }

// ComponentProfile is the connection profile of one component, holding
// only its own identity (see Component).
func (l Layout) ComponentProfile(name string) string { return l.path("profiles", name+".json") }
func (l Layout) State() string                       { return l.path("state.json") }
func (l Layout) LogDir() string                      { return l.path("logs") }
func (l Layout) Packages() string                    { return l.path("packages") }

// ChaincodePackage is the package of a chaincode label for one organisation.
func (l Layout) ChaincodePackage(label, org string) string {
	return l.path("packages", fmt.Sprintf("%s-%s.tgz", label, org))
}

// Bundle is the folder of one host's bundle (WriteBundles).
func (l Layout) Bundle(host string) string { return l.path("bundles", host) }
func (l Layout) Crypto() string            { return l.path("crypto") }

// Log returns the log file of the named process.
func (l Layout) Log(process string) string { return l.path("logs", process+".log") }

// NodeConfigDir is the FABRIC_CFG_PATH of one node (its core.yaml or orderer.yaml).
func (l Layout) NodeConfigDir(node string) string { return l.path("nodes", node, "config") }

// NodeDataDir holds one node's ledger.
func (l Layout) NodeDataDir(node string) string { return l.path("nodes", node, "data") }

func (l Layout) ordererOrg(o Org) string {
	return l.path("crypto", "ordererOrganizations", o.OrdererDomain)
}

func (l Layout) peerOrg(o Org) string { return l.path("crypto", "peerOrganizations", o.Domain) }

// OrdererOrgMSP is an organisation's orderer MSP folder (for configtx).
func (l Layout) OrdererOrgMSP(o Org) string { return filepath.Join(l.ordererOrg(o), "msp") }

// OrdererNode is the crypto folder (msp/, tls/) of orderer i.
func (l Layout) OrdererNode(i int) string {
	return filepath.Join(l.ordererOrg(OrdererOrg(i)), "orderers", OrdererHost(i))
}

// OrdererSignCert is orderer i's signing certificate (its BFT identity).
func (l Layout) OrdererSignCert(i int) string {
	return filepath.Join(l.OrdererNode(i), "msp", "signcerts", OrdererHost(i)+"-cert.pem")
}

// OrdererTLSCA is the TLS CA of the organisation's orderers.
func (l Layout) OrdererTLSCA(o Org) string {
	return filepath.Join(l.ordererOrg(o), "tlsca", "tlsca."+o.OrdererDomain+"-cert.pem")
}

// OrdererTLSRoots is one PEM file with every organisation's orderer TLS CA:
// orderers trust each other with it, and the peer CLI and osnadmin verify
// any orderer with it.
func (l Layout) OrdererTLSRoots() string { return l.path("config", "orderer-tls-roots.pem") }

// OrdererAdminTLS is the TLS client cert and key with which the
// organisation's orderer admin calls its orderers' admin endpoints (osnadmin).
func (l Layout) OrdererAdminTLS(o Org) (cert, key string) {
	d := filepath.Join(l.ordererOrg(o), "users", "Admin@"+o.OrdererDomain, "tls")
	return filepath.Join(d, "client.crt"), filepath.Join(d, "client.key")
}

// OrgMSP is a peer organisation's MSP folder (for configtx).
func (l Layout) OrgMSP(o Org) string { return filepath.Join(l.peerOrg(o), "msp") }

// PeerNode is the crypto folder (msp/, tls/) of the organisation's peer.
func (l Layout) PeerNode(o Org) string { return filepath.Join(l.peerOrg(o), "peers", o.PeerHost()) }

// PeerTLSCA is the organisation's TLS CA certificate.
func (l Layout) PeerTLSCA(o Org) string { return filepath.Join(l.PeerNode(o), "tls", "ca.crt") }

// UserMSP is the MSP folder of a user ("Admin" or "User1") of the organisation.
func (l Layout) UserMSP(o Org, user string) string {
	return filepath.Join(l.peerOrg(o), "users", fmt.Sprintf("%s@%s", user, o.Domain), "msp")
}

// UserCert and UserKey locate a user's signing certificate and private key.
func (l Layout) UserCert(o Org, user string) string {
	return filepath.Join(l.UserMSP(o, user), "signcerts", fmt.Sprintf("%s@%s-cert.pem", user, o.Domain))
}

// UserKeyDir is the keystore folder holding the user's single private key.
func (l Layout) UserKeyDir(o Org, user string) string {
	return filepath.Join(l.UserMSP(o, user), "keystore")
}

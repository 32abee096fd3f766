package audit

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/votechain/votechain/network/fabricblock"
)

// IdentityCache remembers the public keys of certificates already parsed
// and, for an organisation's members, already chained to the
// organisation's CAs, so that the few orderers and peers that sign every
// block cost one ECDSA verification a signature. A nil IdentityCache
// remembers nothing. It is safe for concurrent use; it forgets everything
// once it holds maxCachedIdentities keys.
type IdentityCache struct {
	mu   sync.Mutex
	keys map[string]*ecdsa.PublicKey
}

const maxCachedIdentities = 1024

// get returns the key cached under k, or what load returns (remembered
// unless it failed).
func (c *IdentityCache) get(k string, load func() (*ecdsa.PublicKey, error)) (*ecdsa.PublicKey, error) {
	if c == nil {
		return load()
	}
	c.mu.Lock()
	pub, ok := c.keys[k]
	c.mu.Unlock()
	if ok {
		return pub, nil
	}
	pub, err := load()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.keys == nil || len(c.keys) >= maxCachedIdentities {
		c.keys = map[string]*ecdsa.PublicKey{}
	}
	c.keys[k] = pub
	c.mu.Unlock()
	return pub, nil
}

// cert returns the ECDSA key of certificate certPEM.
func (c *IdentityCache) cert(certPEM []byte) (*ecdsa.PublicKey, error) {
	return c.get("cert\x00"+string(certPEM), func() (*ecdsa.PublicKey, error) {
		cert, err := parseCert(certPEM)
		if err != nil {
			return nil, err
		}
		return ecdsaKey(cert)
	})
}

// member returns the ECDSA key of id once it checked that id is of one of
// orgs, that its certificate chains to that organisation's CAs and, unless
// ou is "", that its subject's organisational units name ou (the MSP's
// node role, such as "peer").
func (c *IdentityCache) member(orgs []fabricblock.OrgMSP, id fabricblock.Identity, ou string) (*ecdsa.PublicKey, error) {
	i := slices.IndexFunc(orgs, func(o fabricblock.OrgMSP) bool { return o.MSPID == id.MSPID })
	if i < 0 {
		return nil, fmt.Errorf("signer's MSP %q is not among %s", id.MSPID, mspIDs(orgs))
	}
	cas := sha256.New()
	for _, pemBytes := range slices.Concat(orgs[i].RootCerts, [][]byte{nil}, orgs[i].IntermediateCerts) {
		cas.Write(pemBytes)
		cas.Write([]byte{0})
	}
	k := fmt.Sprintf("member\x00%s\x00%s\x00%x\x00%s", id.MSPID, ou, cas.Sum(nil), id.Cert)
	return c.get(k, func() (*ecdsa.PublicKey, error) { return verifyMember(orgs[i], id, ou) })
}

// verifyMember checks id's certificate against org (its CAs, and ou if not
// "") and returns its ECDSA key.
func verifyMember(org fabricblock.OrgMSP, id fabricblock.Identity, ou string) (*ecdsa.PublicKey, error) {
	cert, err := parseCert(id.Cert)
	if err != nil {
		return nil, err
	}
	if ou != "" && !slices.Contains(cert.Subject.OrganizationalUnit, ou) {
		return nil, fmt.Errorf("signer %q of %s is no %s", cert.Subject.CommonName, id.MSPID, ou)
	}
	// The chain is checked as of the latest start of validity among the
	// certificates (a block outlives its signer's certificate, and carries
	// no time of its own to check it at).
	opts := x509.VerifyOptions{Roots: x509.NewCertPool(), Intermediates: x509.NewCertPool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
		CurrentTime: cert.NotBefore}
	for pool, certs := range map[*x509.CertPool][][]byte{opts.Roots: org.RootCerts, opts.Intermediates: org.IntermediateCerts} {
		for _, pemBytes := range certs {
			ca, err := parseCert(pemBytes)
			if err != nil {
				return nil, fmt.Errorf("%s's CA: %v", id.MSPID, err)
			}
			pool.AddCert(ca)
			if ca.NotBefore.After(opts.CurrentTime) {
				opts.CurrentTime = ca.NotBefore
			}
		}
	}
	if _, err := cert.Verify(opts); err != nil {
		return nil, fmt.Errorf("signer's certificate is not of %s: %v", id.MSPID, err)
	}
	return ecdsaKey(cert)
}

func mspIDs(orgs []fabricblock.OrgMSP) string {
	ids := make([]string, len(orgs))
	for i, o := range orgs {
		ids[i] = o.MSPID
	}
	return strings.Join(ids, ", ")
}

// verifyDigest checks an ASN.1 ECDSA signature of digest with pub.
func verifyDigest(pub *ecdsa.PublicKey, digest [32]byte, sig []byte) error {
	if !ecdsa.VerifyASN1(pub, digest[:], sig) {
		return errors.New("signature does not verify")
	}
	return nil
}

func ecdsaKey(cert *x509.Certificate) (*ecdsa.PublicKey, error) {
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return nil, errors.New("signer's key is not ECDSA")
	}
	return pub, nil
}

func parseCert(certPEM []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(certPEM)
	if block == nil {
		return nil, errors.New("signer's certificate is not PEM")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("signer's certificate: %v", err)
	}
	return cert, nil
}

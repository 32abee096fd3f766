package audit_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"google.golang.org/protobuf/proto"

	"github.com/votechain/votechain/explorer/audit"
	"github.com/votechain/votechain/network/fabricblock"
	"github.com/votechain/votechain/network/fabricblock/ledgertest"
)

// capturedChain loads the blocks captured from a real BFT network.
func capturedChain(t *testing.T) []*common.Block {
	t.Helper()
	blocks, err := ledgertest.CapturedBlocks()
	if err != nil {
		t.Fatal(err)
	}
	return blocks
}

// auditBlocks audits blocks in order, with the block signatures checked,
// and returns the issues of each.
func auditBlocks(t *testing.T, blocks []*common.Block) [][]audit.Issue {
	t.Helper()
	h := newHistory()
	var prev []byte
	var issues [][]audit.Issue
	for _, blk := range blocks {
		b, err := fabricblock.Parse(blk)
		if err != nil {
			t.Fatal(err)
		}
		r, err := audit.Auditor{Chaincode: "ballot"}.Block(t.Context(), prev, b, h)
		if err != nil {
			t.Fatal(err)
		}
		h.add(r)
		prev, issues = b.Hash, append(issues, r.Issues)
	}
	return issues
}

// withSignatures returns a copy of blk whose signatures metadata is edited
// by edit.
func withSignatures(t *testing.T, blk *common.Block, edit func(*common.Metadata)) *common.Block {
	t.Helper()
	out := proto.Clone(blk).(*common.Block)
	var md common.Metadata
	if err := proto.Unmarshal(out.Metadata.Metadata[common.BlockMetadataIndex_SIGNATURES], &md); err != nil {
		t.Fatal(err)
	}
	edit(&md)
	raw, err := proto.Marshal(&md)
	if err != nil {
		t.Fatal(err)
	}
	out.Metadata.Metadata[common.BlockMetadataIndex_SIGNATURES] = raw
	return out
}

// TestCapturedBlockSignatures: the blocks of a real BFT network pass the
// signature check against the genesis block's consenters (3 of 4 signed
// each); a block whose signatures fall short of the quorum — one altered,
// one dropped, one consenter counted twice — or whose header was changed
// after signing is flagged as block_signature on that block alone.
func TestCapturedBlockSignatures(t *testing.T) {
	chain := capturedChain(t)
	for n, issues := range auditBlocks(t, chain) {
		if len(issues) != 0 {
			t.Fatalf("captured block %d flagged: %+v", n, issues)
		}
	}
	const target = 2
	altered := withSignatures(t, chain[target], func(md *common.Metadata) { md.Signatures[1].Signature[10] ^= 1 })
	dropped := withSignatures(t, chain[target], func(md *common.Metadata) { md.Signatures = md.Signatures[:2] })
	twice := withSignatures(t, chain[target], func(md *common.Metadata) { md.Signatures[2] = md.Signatures[0] })
	header := proto.Clone(chain[target]).(*common.Block)
	header.Header.Number = 1 << 40 // the signed header differs; the chain does not check numbers
	for name, blk := range map[string]*common.Block{
		"a signature altered":         altered,
		"a signature dropped":         dropped,
		"one consenter counted twice": twice,
		"the header changed":          header,
	} {
		blocks := slices.Clone(chain)
		blocks[target] = blk
		for n, issues := range auditBlocks(t, blocks[:target+1]) {
			var kinds []string
			for _, is := range issues {
				kinds = append(kinds, is.Kind)
			}
			want := []string(nil)
			if n == target {
				want = []string{audit.KindBlockSignature}
			}
			if !slices.Equal(kinds, want) {
				t.Errorf("%s: block %d issues %+v; want %v", name, n, issues, want)
			}
		}
	}
	// A chain whose genesis block carries no orderer configuration: its
	// signatures cannot be checked, which block 0 says.
	issues := auditBlocks(t, ledgertest.Chain([]ledgertest.Tx{{ID: "g", Config: true}}, []ledgertest.Tx{{ID: "s", Function: "Ping"}}))
	if len(issues[0]) != 1 || issues[0][0].Kind != audit.KindBlockSignature || len(issues[1]) != 0 {
		t.Fatalf("unsigned chain without orderer configuration: %+v", issues)
	}
}

// testCA is a certificate authority of an orderer organisation.
type testCA struct {
	key  *ecdsa.PrivateKey
	cert *x509.Certificate
	pem  []byte
}

func newCA(t *testing.T, name string) testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return testCA{key, cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns a signing key and its certificate (PEM) issued by ca.
func (ca testCA) issue(t *testing.T, name string) (*ecdsa.PrivateKey, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: name}, NotBefore: time.Now().Add(-time.Minute),
		NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// TestRaftBlockSignatures: with Raft, a block needs one signature by an
// orderer whose certificate its orderer organisation's CA issued; a
// signature by a certificate of another CA, of an organisation that is no
// orderer organisation, or that does not verify is flagged.
func TestRaftBlockSignatures(t *testing.T) {
	ordererCA, otherCA := newCA(t, "ca.orderer"), newCA(t, "ca.other")
	cfg := &fabricblock.ChannelConfig{Consensus: "etcdraft", OrdererOrgs: []fabricblock.OrgMSP{{MSPID: "OrdererMSP", RootCerts: [][]byte{ordererCA.pem}}}}
	key, cert := ordererCA.issue(t, "orderer0")
	strayKey, strayCert := otherCA.issue(t, "orderer0")
	signed := []byte("metadata value, signature header, block header")
	sign := func(k *ecdsa.PrivateKey, msp string, cert []byte) fabricblock.Signature {
		digest := sha256.Sum256(signed)
		sig, err := ecdsa.SignASN1(rand.Reader, k, digest[:])
		if err != nil {
			t.Fatal(err)
		}
		return fabricblock.Signature{Creator: fabricblock.Identity{MSPID: msp, Cert: cert}, Signed: signed, Signature: sig}
	}
	good := sign(key, "OrdererMSP", cert)
	forged := good
	forged.Signed = []byte("another block header")
	h := newHistory()
	h.orderers = cfg
	// The config once its CA is replaced: the signer's certificate, cached
	// as a member under the old CA, is no longer one.
	rotated := newHistory()
	rotated.orderers = &fabricblock.ChannelConfig{Consensus: "etcdraft", OrdererOrgs: []fabricblock.OrgMSP{{MSPID: "OrdererMSP", RootCerts: [][]byte{otherCA.pem}}}}
	cache := &audit.IdentityCache{} // shared by the cases, in their order, as a follower's
	for _, c := range []struct {
		name string
		h    *memHistory
		sigs []fabricblock.Signature
		want string // in the issue's message; "" for none
	}{
		{"signed", h, []fabricblock.Signature{good}, ""},
		{"signed, among others", h, []fabricblock.Signature{sign(strayKey, "OrdererMSP", strayCert), good}, ""},
		{"unsigned", h, nil, "no valid signature"},
		{"a certificate of another CA", h, []fabricblock.Signature{sign(strayKey, "OrdererMSP", strayCert)}, "is not of OrdererMSP"},
		{"no orderer organisation", h, []fabricblock.Signature{sign(key, "PeerMSP", cert)}, `MSP "PeerMSP" is not among OrdererMSP`},
		{"a signature of other bytes", h, []fabricblock.Signature{forged}, "does not verify"},
		{"signed, once the CA is replaced", rotated, []fabricblock.Signature{good}, "is not of OrdererMSP"},
		{"signed, by the old CA again", h, []fabricblock.Signature{good}, ""},
	} {
		name := c.name
		r, err := audit.Auditor{Chaincode: "ballot", Identities: cache}.Block(t.Context(), nil, fabricblock.Block{Number: 5, DataHashOK: true, Signatures: c.sigs}, c.h)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case c.want == "" && len(r.Issues) != 0:
			t.Errorf("%s: issues %+v", name, r.Issues)
		case c.want != "" && (len(r.Issues) != 1 || r.Issues[0].Kind != audit.KindBlockSignature || !strings.Contains(r.Issues[0].Message, c.want)):
			t.Errorf("%s: issues %+v; want block_signature saying %q", name, r.Issues, c.want)
		}
	}
}

// BenchmarkBlockSignatures measures the signature check of one captured
// block (three consenters' ECDSA signatures) as the audit runs it: the
// configuration read from History, the certificates parsed, the
// signatures verified.
func BenchmarkBlockSignatures(b *testing.B) {
	blocks := parsedCapture(b)
	blk := blocks[2]
	blk.Txs = nil // the signatures alone
	benchAudit(b, blocks[0].ChannelConfig, blk)
}

// parsedCapture returns the captured blocks, parsed.
func parsedCapture(tb testing.TB) []fabricblock.Block {
	tb.Helper()
	chain, err := ledgertest.CapturedBlocks()
	if err != nil {
		tb.Fatal(err)
	}
	blocks := make([]fabricblock.Block, len(chain))
	for i, blk := range chain {
		if blocks[i], err = fabricblock.Parse(blk); err != nil {
			tb.Fatal(err)
		}
	}
	return blocks
}

// benchAudit measures the audit of blk against cfg, with and without an
// IdentityCache (sub-benchmarks), failing unless it raises exactly the
// issue kinds want.
func benchAudit(b *testing.B, cfg *fabricblock.ChannelConfig, blk fabricblock.Block, want ...string) {
	h := newHistory()
	h.orderers = cfg
	for _, c := range []struct {
		name string
		ids  *audit.IdentityCache
	}{{"uncached", nil}, {"cached", &audit.IdentityCache{}}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				r, err := audit.Auditor{Chaincode: "ballot", Identities: c.ids}.Block(b.Context(), blk.PreviousHash, blk, h)
				var kinds []string
				for _, is := range r.Issues {
					kinds = append(kinds, is.Kind)
				}
				if err != nil || !slices.Equal(kinds, want) {
					b.Fatalf("%v %+v", err, r.Issues)
				}
			}
		})
	}
}

// TestGenesisPinned: given the published genesis block's hash, the audit
// accepts the captured chain whose block 0 it is, and flags block 0 of a
// chain that starts from another (genesis) and nothing else.
func TestGenesisPinned(t *testing.T) {
	chain := capturedChain(t)
	blocks := parsedCapture(t)
	h := newHistory()
	for name, c := range map[string]struct {
		genesis []byte
		want    []string
	}{
		"the published genesis block": {blocks[0].Hash, nil},
		"another genesis block":       {bytes.Repeat([]byte{7}, 32), []string{audit.KindGenesis}},
	} {
		r, err := audit.Auditor{Chaincode: "ballot", Genesis: c.genesis}.Block(t.Context(), nil, blocks[0], h)
		if err != nil {
			t.Fatal(err)
		}
		var kinds []string
		for _, is := range r.Issues {
			kinds = append(kinds, is.Kind)
		}
		if !slices.Equal(kinds, c.want) {
			t.Errorf("%s: issues %+v; want %v", name, r.Issues, c.want)
		}
	}
	if raw, err := proto.Marshal(chain[0]); err != nil {
		t.Fatal(err)
	} else if hash, err := fabricblock.FileHeaderHash(raw); err != nil || !bytes.Equal(hash, blocks[0].Hash) {
		t.Fatalf("FileHeaderHash of the genesis block's file = %x, %v; want %x", hash, err, blocks[0].Hash)
	}
	if _, err := fabricblock.FileHeaderHash([]byte("not a block")); err == nil {
		t.Fatal("FileHeaderHash of bytes that are no block: no error")
	}
}

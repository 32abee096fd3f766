package chaincode

import (
	"cmp"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"google.golang.org/protobuf/proto"

	"github.com/votechain/votechain/ballot"
)

// serializedIdentity returns what a peer passes as the creator: an MSP id
// and a PEM certificate whose subject has the given OU, as NodeOUs issue,
// and the common name cn ("" for ou@mspID).
func serializedIdentity(t testing.TB, mspID, ou, cn string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: cmp.Or(cn, ou+"@"+mspID), OrganizationalUnit: []string{ou}},
		NotBefore:    opens.Add(-24 * time.Hour), NotAfter: closes.Add(24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	id, err := proto.Marshal(&msp.SerializedIdentity{Mspid: mspID, IdBytes: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestInvokeThroughContractAPI runs the contract as the peer does: through
// contractapi's dispatch and the real cid identity parsed from a certificate.
func TestInvokeThroughContractAPI(t *testing.T) {
	stub := newFakeStub()
	bc := NewBallotContract()
	bc.clock = func() time.Time { return stub.txTime }
	cc, err := NewChaincode(bc, NewProbeContract(new(PeerLink)))
	if err != nil {
		t.Fatal(err)
	}
	admin := serializedIdentity(t, CommissionMSP, "admin", "")
	client := serializedIdentity(t, CommissionMSP, "client", "")
	invoke := func(creator []byte, now time.Time, args ...string) (int32, string) {
		stub.begin("tx-"+args[0], now)
		stub.creator, stub.args = creator, args
		resp := cc.Invoke(stub)
		if resp.Status == shim.OK {
			stub.commit()
		}
		return resp.Status, resp.Message + string(resp.Payload)
	}
	e := testElection()
	e.Batchers = []string{"client@" + CommissionMSP} // client's certificate name
	election, _ := json.Marshal(e)
	before, during := opens.Add(-time.Hour), opens.Add(time.Hour)

	// "No such record" reaches the client as message text carrying the mark
	// (network/fabricclient turns it into ballot.ErrNotFound); other
	// refusals never carry it.
	for _, args := range [][]string{{"GetElection"}, {"GetBatch", "CA", "1"},
		{"LocateNullifier", "CA", vote("CA", 1, "bob").Nullifier}} {
		if status, msg := invoke(client, before, args...); status == shim.OK || !ballot.IsNotFound(msg) {
			t.Errorf("%s before anything is stored: %d %q, want a message with %q", args[0], status, msg, ballot.NotFoundMark)
		}
	}
	if status, msg := invoke(client, before, "GetBatch", "ca", "1"); status == shim.OK || ballot.IsNotFound(msg) {
		t.Errorf("GetBatch of an invalid state: %d %q, want a refusal that is not not-found", status, msg)
	}
	if status, msg := invoke(client, before, "SetupElection", string(election)); status == shim.OK || !strings.Contains(msg, "admin") {
		t.Fatalf("client set-up: %d %s", status, msg)
	}
	if status, msg := invoke(admin, before, "SetupElection", string(election)); status != shim.OK {
		t.Fatalf("admin set-up: %d %s", status, msg)
	}
	b := batch(t, "CA", 1, votes("CA", 0, 3))
	data, _ := json.Marshal(b)
	status, out := invoke(client, during, "ballot:CommitBatch", string(data))
	var rec ballot.BatchRecord
	if status != shim.OK || json.Unmarshal([]byte(out), &rec) != nil || rec.Counted != 3 || rec.Root != b.Root {
		t.Fatalf("CommitBatch: %d %s", status, out)
	}
	if status, out := invoke(client, during, "GetBatch", "CA", "1"); status != shim.OK || !strings.Contains(out, `"root":"`+b.Root) {
		t.Fatalf("GetBatch: %d %s", status, out)
	}
	if status, out := invoke(client, during, "GetResults"); status != shim.OK || !strings.Contains(out, `"national":{"president":{"alice":2,"bob":1}}`) {
		t.Fatalf("GetResults: %d %s", status, out)
	}
	// FinaliseElection has no form without the batch totals its caller's
	// check judged: an earlier client's call is refused.
	if status, msg := invoke(admin, during, "FinaliseElection"); status == shim.OK || !strings.Contains(msg, "Expected 1, received 0") {
		t.Errorf("FinaliseElection with no argument: %d %q; want refused for the missing argument", status, msg)
	}
}

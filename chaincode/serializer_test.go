package chaincode

import (
	"encoding/json"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/go-openapi/spec"
	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
	"github.com/hyperledger/fabric-contract-api-go/v2/metadata"
	"github.com/hyperledger/fabric-contract-api-go/v2/serializer"
	"github.com/xeipuuv/gojsonschema"
)

// compiled compiles a JSON schema as contractapi does for a parameter.
func compiled(t *testing.T, schema string) *gojsonschema.Schema {
	t.Helper()
	s, err := gojsonschema.NewSchema(gojsonschema.NewStringLoader(`{"properties":{"p":` + schema + `}}`))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestPlainStringsSkipsOnlyThePlainStringCheck: a string argument or result
// whose schema is contractapi's {"type":"string"} is taken as it is, even
// where the compiled schema (here one no value meets) would refuse it, so
// the check is skipped; every other argument and result is checked as
// JSONSerializer checks it, with the same outcome.
func TestPlainStringsSkipsOnlyThePlainStringCheck(t *testing.T) {
	var plain PlainStrings
	var full serializer.JSONSerializer
	str, u64 := reflect.TypeFor[string](), reflect.TypeFor[uint64]()
	never := compiled(t, `{"type":"integer"}`) // a string never is one

	arg := &metadata.ParameterMetadata{Name: "p", Schema: spec.StringProperty(), CompiledSchema: never}
	got, err := plain.FromString(`{"votes":[]}`, str, arg, nil)
	if err != nil || got.Interface() != `{"votes":[]}` {
		t.Errorf("plain string argument: %v %v, want it as it is", got, err)
	}
	if _, err := full.FromString(`{"votes":[]}`, str, arg, nil); err == nil {
		t.Error("JSONSerializer took the string against a schema it fails: the test shows nothing")
	}
	ret := &metadata.ReturnMetadata{Schema: spec.StringProperty(), CompiledSchema: compiled(t, `{"type":"integer"}`)}
	if out, err := plain.ToString(reflect.ValueOf("record"), str, ret, nil); err != nil || out != "record" {
		t.Errorf("plain string result: %q %v, want it as it is", out, err)
	}

	// A schema that says more than "string" is checked.
	short := spec.StringProperty()
	short.MaxLength = new(int64)
	*short.MaxLength = 3
	arg = &metadata.ParameterMetadata{Name: "p", Schema: short, CompiledSchema: compiled(t, `{"type":"string","maxLength":3}`)}
	for _, v := range []string{"abc", "abcd"} {
		a, errA := plain.FromString(v, str, arg, nil)
		b, errB := full.FromString(v, str, arg, nil)
		if (errA == nil) != (errB == nil) || errA == nil && a.Interface() != b.Interface() {
			t.Errorf("maxLength 3, %q: plain %v %v, JSON %v %v", v, a, errA, b, errB)
		}
	}
	if _, err := plain.FromString("abcd", str, arg, nil); err == nil {
		t.Error("maxLength 3 took 4 characters")
	}

	// Other types are converted and checked as before.
	arg = &metadata.ParameterMetadata{Name: "p", Schema: spec.Int64Property(), CompiledSchema: compiled(t, `{"type":"integer","minimum":0}`)}
	for _, v := range []string{"7", "x", "-1", ""} {
		a, errA := plain.FromString(v, u64, arg, nil)
		b, errB := full.FromString(v, u64, arg, nil)
		if (errA == nil) != (errB == nil) || errA == nil && a.Interface() != b.Interface() {
			t.Errorf("uint64 %q: plain %v %v, JSON %v %v", v, a, errA, b, errB)
		}
	}
	if out, err := plain.ToString(reflect.ValueOf(uint64(7)), u64, nil, nil); err != nil || out != "7" {
		t.Errorf("uint64 result: %q %v", out, err)
	}
}

// TestNewChaincodeSkipsTheBatchCheck: contractapi's own metadata for
// CommitBatch takes the plain path. Committing a batch through NewChaincode
// allocates at least two copies of the batch's JSON less than through
// contractapi.NewChaincode (JSONSerializer marshals the argument to JSON and
// decodes it again), and gives the same record.
func TestNewChaincodeSkipsTheBatchCheck(t *testing.T) {
	data, err := json.Marshal(batch(t, "CA", 1, votes("CA", 0, 2_000)))
	if err != nil {
		t.Fatal(err)
	}
	commit := func(build func(...contractapi.ContractInterface) (*contractapi.ContractChaincode, error)) (string, uint64) {
		h := newHarness(t)
		h.open()
		cc, err := build(h.cc)
		if err != nil {
			t.Fatal(err)
		}
		h.stub.creator = serializedIdentity(t, CommissionMSP, "client", batcherCN)
		h.stub.args = []string{"CommitBatch", string(data)}
		h.stub.begin("tx", h.now)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		resp := cc.Invoke(h.stub)
		runtime.ReadMemStats(&after)
		if resp.Status != shim.OK {
			t.Fatal(resp.Message)
		}
		return string(resp.Payload), after.TotalAlloc - before.TotalAlloc
	}
	fullOut, fullAlloc := commit(contractapi.NewChaincode)
	plainOut, plainAlloc := commit(NewChaincode)
	if plainOut != fullOut || !strings.Contains(plainOut, `"counted":2000`) {
		t.Errorf("records differ or miss the votes:\nplain %s\nJSON  %s", plainOut, fullOut)
	}
	if plainAlloc+2*uint64(len(data)) > fullAlloc {
		t.Errorf("allocated %d bytes through NewChaincode, %d through contractapi.NewChaincode: want at least 2 × %d bytes (the batch) less", plainAlloc, fullAlloc, len(data))
	}
	t.Logf("batch %d bytes; allocated %d through contractapi.NewChaincode, %d through NewChaincode", len(data), fullAlloc, plainAlloc)
}

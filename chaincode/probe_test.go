package chaincode

import (
	"strings"
	"testing"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

func TestProbe(t *testing.T) {
	h := newHarness(t)
	p := NewProbeContract(new(PeerLink))
	put := func(k, v string) txFunc {
		return func(ctx contractapi.TransactionContextInterface) (string, error) { return "", p.Put(ctx, k, v) }
	}
	get := func(k string) txFunc {
		return func(ctx contractapi.TransactionContextInterface) (string, error) { return p.Get(ctx, k) }
	}
	h.must(commissionAdmin, put("k", "v"))
	if got := h.must(observerAdmin, get("k")); got != "v" {
		t.Fatalf("Get = %q", got)
	}
	for _, fn := range []txFunc{put("", "v"), put("k", strings.Repeat("v", 1025)), get("missing")} {
		if _, err := h.call(commissionAdmin, fn); err == nil {
			t.Error("probe accepted bad input")
		}
	}
	// Admins only, of either organisation.
	for _, fn := range []txFunc{put("k", "w"), get("k"), p.Batching} {
		_, err := h.call(commissionClient, fn)
		wantErr(t, "probe by a client", err, "not an admin")
	}
	h.stub.failOn = "GetState"
	if _, err := h.call(commissionAdmin, get("k")); err == nil {
		t.Error("probe read failure not reported")
	}
}

package chaincode

import (
	"fmt"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// probeKeyPrefix namespaces probe records so they can never collide with
// election keys (which are composite keys starting with 0x00).
const probeKeyPrefix = "probe~"

// ProbeContract is a tiny read/write contract used by operators and tests to
// prove the network end to end: a Put must be endorsed by both organisations,
// ordered and committed; a Get reads it back; Batching says whether the peer
// lets the chaincode batch its ledger access. It never touches election data.
// Only admins of either organisation may call it.
type ProbeContract struct {
	contractapi.Contract
	link *PeerLink
}

// NewProbeContract returns the probe contract, registered under the name
// "probe", reporting the batching recorded in link.
func NewProbeContract(link *PeerLink) *ProbeContract {
	c := &ProbeContract{link: link}
	c.Name = "probe"
	c.Info.Title = "Votechain network probe"
	return c
}

// GetEvaluateTransactions marks the read-only functions as "evaluate".
func (c *ProbeContract) GetEvaluateTransactions() []string { return []string{"Get", "Batching"} }

// Put records value under key.
func (c *ProbeContract) Put(ctx contractapi.TransactionContextInterface, key, value string) error {
	if err := requireAnyAdmin(ctx); err != nil {
		return err
	}
	if key == "" || len(key) > 128 {
		return fmt.Errorf("probe key must be 1..128 bytes, got %d", len(key))
	}
	if len(value) > 1024 {
		return fmt.Errorf("probe value must be at most 1024 bytes, got %d", len(value))
	}
	return ctx.GetStub().PutState(probeKeyPrefix+key, []byte(value))
}

// Get returns the value last recorded under key, or an error if there is none.
func (c *ProbeContract) Get(ctx contractapi.TransactionContextInterface, key string) (string, error) {
	if err := requireAnyAdmin(ctx); err != nil {
		return "", err
	}
	v, err := ctx.GetStub().GetState(probeKeyPrefix + key)
	if err != nil {
		return "", fmt.Errorf("read probe %q: %w", key, err)
	}
	if v == nil {
		return "", fmt.Errorf("no probe recorded under %q", key)
	}
	return string(v), nil
}

// Batching returns what the peer running this call advertised when it
// connected to this chaincode service (JSON Batching): a test or operator
// evaluates it on each organisation's peer to prove batching is on.
func (c *ProbeContract) Batching(ctx contractapi.TransactionContextInterface) (string, error) {
	if err := requireAnyAdmin(ctx); err != nil {
		return "", err
	}
	return marshal(c.link.Batching())
}

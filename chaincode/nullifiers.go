package chaincode

import (
	"fmt"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"

	"github.com/votechain/votechain/ballot"
)

// maxNullifierPage bounds one ListNullifiers page.
const maxNullifierPage = 10_000

// NullifierPage is one page of a state's used nullifiers, in key order.
type NullifierPage struct {
	Nullifiers []string `json:"nullifiers"`
	Bookmark   string   `json:"bookmark"` // pass to the next call; "" when this was the last page
}

// ListNullifiers returns a page of the nullifiers used in state (JSON
// NullifierPage; the roll's unused marks are skipped, so a page may hold
// fewer than pageSize with more to come: follow the bookmark), for rebuilding the gateway's Bloom filters from the ledger
// after a Redis loss. Pass "" as bookmark for the first page. Paginated range
// queries only run in evaluate (read-only) transactions.
func (c *BallotContract) ListNullifiers(ctx contractapi.TransactionContextInterface, state, bookmark string, pageSize int) (string, error) {
	if !ballot.ValidState(state) {
		return "", fmt.Errorf("invalid state %q", state)
	}
	if pageSize < 1 || pageSize > maxNullifierPage {
		return "", fmt.Errorf("page size must be 1..%d, got %d", maxNullifierPage, pageSize)
	}
	it, meta, err := ctx.GetStub().GetStateByPartialCompositeKeyWithPagination(ballot.NullifierObject, []string{state}, int32(pageSize), bookmark)
	if err != nil {
		return "", fmt.Errorf("list nullifiers of %s: %w", state, err)
	}
	defer it.Close()
	page := NullifierPage{Nullifiers: make([]string, 0, pageSize)}
	read := 0
	for ; it.HasNext(); read++ {
		kv, err := it.Next()
		if err != nil {
			return "", fmt.Errorf("list nullifiers of %s: %w", state, err)
		}
		_, nullifier, ok := ballot.ParseNullifierKey(kv.Key)
		if !ok {
			return "", fmt.Errorf("malformed nullifier key %q", kv.Key)
		}
		if _, mark := ballot.ParseRollMark(kv.Value); !mark { // a mark: a voter on the roll who has not voted
			page.Nullifiers = append(page.Nullifiers, nullifier)
		}
	}
	if read == pageSize {
		page.Bookmark = meta.GetBookmark()
	}
	return marshal(page)
}

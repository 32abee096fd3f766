package ballot_test

import (
	"fmt"
	"testing"

	"github.com/votechain/votechain/ballot"
)

// TestReceiptPath: a vote id is appended to the receipts' route as it is
// (a valid one needs no escape); anything else is escaped into one path
// segment (verify sends only valid ids).
func TestReceiptPath(t *testing.T) {
	for id, want := range map[string]string{
		"0123456789abcdef0123456789abcdef": "/api/v1/votes/0123456789abcdef0123456789abcdef",
		"lookup/../x":                      "/api/v1/votes/lookup%2F..%2Fx",
		"a b?":                             "/api/v1/votes/a%20b%3F",
	} {
		if got := ballot.ReceiptPath(id); got != want {
			t.Errorf("ReceiptPath(%q) = %q; want %q", id, got, want)
		}
	}
}

// ExampleReceiptPath builds the paths verify asks the gateway for: a
// vote's receipt, and its acceptance receipt.
func ExampleReceiptPath() {
	id := "0123456789abcdef0123456789abcdef"
	fmt.Println(ballot.ReceiptPath(id))
	fmt.Println(ballot.ReceiptPath(id) + ballot.AcceptancePathSuffix)
	// Output:
	// /api/v1/votes/0123456789abcdef0123456789abcdef
	// /api/v1/votes/0123456789abcdef0123456789abcdef/acceptance
}

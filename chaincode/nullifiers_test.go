package chaincode

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// listAll pages through a state's nullifiers with pages of size n.
func listAll(t *testing.T, h *harness, state string, n int) ([]string, int) {
	t.Helper()
	var all []string
	pages := 0
	bookmark := ""
	for {
		out := h.must(observerAdmin, func(ctx contractapi.TransactionContextInterface) (string, error) {
			return h.cc.ListNullifiers(ctx, state, bookmark, n)
		})
		var page NullifierPage
		if err := json.Unmarshal([]byte(out), &page); err != nil {
			t.Fatal(err)
		}
		pages++
		all = append(all, page.Nullifiers...)
		if page.Bookmark == "" {
			return all, pages
		}
		bookmark = page.Bookmark
	}
}

func TestListNullifiersPagesThroughAState(t *testing.T) {
	h := newHarness(t)
	h.open()
	ca := votes("CA", 0, 7)
	if _, err := h.commit(batch(t, "CA", 1, ca)); err != nil {
		t.Fatal(err)
	}
	if _, err := h.commit(batch(t, "NY", 1, votes("NY", 100, 3))); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, v := range ca {
		want = append(want, v.Nullifier)
	}
	slices.Sort(want)
	got, pages := listAll(t, h, "CA", 3)
	if !slices.Equal(got, want) || pages != 3 {
		t.Fatalf("CA in pages of 3: %d nullifiers in %d pages, want %d in 3", len(got), pages, len(want))
	}
	if got, _ := listAll(t, h, "TX", 5); len(got) != 0 {
		t.Fatalf("a state without votes lists %v", got)
	}
	for _, bad := range []struct {
		state string
		size  int
	}{{"ca", 10}, {"CA", 0}, {"CA", maxNullifierPage + 1}} {
		if _, err := h.call(observerAdmin, func(ctx contractapi.TransactionContextInterface) (string, error) {
			return h.cc.ListNullifiers(ctx, bad.state, "", bad.size)
		}); err == nil {
			t.Errorf("ListNullifiers(%q, size %d) accepted", bad.state, bad.size)
		}
	}
}

package ballot

import "testing"

// TestReceiptPath: a vote id is appended to the receipts' route as it is
// (a valid one needs no escape); anything else is escaped into one path
// segment, so that it cannot name another route.
func TestReceiptPath(t *testing.T) {
	for id, want := range map[string]string{
		"0123456789abcdef0123456789abcdef": "/api/v1/votes/0123456789abcdef0123456789abcdef",
		"lookup/../x":                      "/api/v1/votes/lookup%2F..%2Fx",
		"a b?":                             "/api/v1/votes/a%20b%3F",
	} {
		if got := ReceiptPath(id); got != want {
			t.Errorf("ReceiptPath(%q) = %q; want %q", id, got, want)
		}
	}
}

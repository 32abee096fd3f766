package ballot

import "net/url"

// The paths of a vote's receipts on the gateway's HTTP API, which the
// gateway and verify must spell alike.
const (
	// ReceiptPathPrefix begins the path of a vote's receipt,
	// GET /api/v1/votes/{vote_id}, which the vote id ends. The gateway
	// writes it in its answers (receipt_url, Location) and verify
	// --vote-id asks for it.
	ReceiptPathPrefix = "/api/v1/votes/"
	// AcceptancePathSuffix ends the path of a vote's acceptance receipt,
	// GET /api/v1/votes/{vote_id}/acceptance: the receipt's path and it.
	// The gateway writes it in its answer to a vote (acceptance_url).
	AcceptancePathSuffix = "/acceptance"
)

// ReceiptPath is the path of vote voteID's receipt on the gateway's HTTP
// API: ReceiptPathPrefix and the id, escaped (a valid vote id, 32 hex
// characters, needs no escape).
func ReceiptPath(voteID string) string { return ReceiptPathPrefix + url.PathEscape(voteID) }

package ballot

import "net/url"

// ReceiptPathPrefix begins the path of a vote's receipt on the gateway's
// HTTP API, GET /api/v1/votes/{vote_id}, which the vote id ends; the path
// of its acceptance receipt adds /acceptance. The gateway writes it in its
// answers (receipt_url, Location) and verify --vote-id asks for it.
const ReceiptPathPrefix = "/api/v1/votes/"

// ReceiptPath is the path of vote voteID's receipt on the gateway's HTTP
// API: ReceiptPathPrefix and the id, escaped (a valid vote id, 32 hex
// characters, needs no escape).
func ReceiptPath(voteID string) string { return ReceiptPathPrefix + url.PathEscape(voteID) }

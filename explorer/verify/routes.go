package verify

import "github.com/votechain/votechain/ballot"

// The gateway's routes of a vote's receipts, as verify's messages and its
// --help name them: built from ballot's paths (ReceiptPathPrefix,
// AcceptancePathSuffix), which the gateway serves and verify asks for, so
// the text cannot drift from them.
const (
	// ReceiptRoute serves a vote's receipt: the receipt_url of the
	// gateway's answer to the vote, what verify --vote-id fetches
	// (ballot.ReceiptPath).
	ReceiptRoute = "GET " + ballot.ReceiptPathPrefix + "{vote_id}"
	// AcceptanceRoute serves a vote's acceptance receipt: the
	// acceptance_url of the gateway's answer to the vote (openapi.yaml).
	AcceptanceRoute = ReceiptRoute + ballot.AcceptancePathSuffix
)

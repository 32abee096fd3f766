package receipt

import "net/url"

// PathPrefix begins the path of a vote's receipt on the gateway's HTTP
// API, GET /api/v1/votes/{vote_id}, which the vote id ends.
const PathPrefix = "/api/v1/votes/"

// Path is the path of vote voteID's receipt on the gateway's HTTP API
// (PathPrefix and the id, escaped), as verify --vote-id asks for it.
func Path(voteID string) string { return PathPrefix + url.PathEscape(voteID) }

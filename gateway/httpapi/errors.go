package httpapi

import (
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
)

// Error codes of the API. Every error answer is
// {"error":{"code":CODE,"message":TEXT}} (openapi.yaml lists them); 5xx
// answers are always 503 with Retry-After: the request may be retried and no
// vote was accepted. The status beside each code is the one its handlers
// answer with (each passes its own); a code answered with two statuses
// says which routes answer which.
const (
	codeInvalidJSON         = "invalid_json"           // 400
	codeInvalidField        = "invalid_field"          // 400
	codeNotEligible         = "not_eligible"           // 403
	codeElectionClosed      = "election_closed"        // 403
	codeNotFound            = "not_found"              // 404
	codeMethodNotAllowed    = "method_not_allowed"     // 405
	codeDuplicate           = "duplicate"              // 409
	codeBodyTooLarge        = "body_too_large"         // 413
	codeUnsupportedMedia    = "unsupported_media_type" // 415
	codeUnknownState        = "unknown_state"          // 422 in a vote; 404 in a results, log or acceptance route's path or query
	codeUnknownContest      = "unknown_contest"        // 422 in a vote's or a look-up's body; 404 in a results route's path
	codeContestRequired     = "contest_required"       // 422
	codeUnknownChoice       = "unknown_choice"         // 422
	codeRateLimited         = "rate_limited"           // 429
	codeUnavailable         = "unavailable"            // 503: Redis (also a receipt's Redis record) or an internal fault
	codeOverloaded          = "overloaded"             // 503: queue deeper than allowed, or the intake's queue for Redis full (dedup.ErrBusy; counted apart in votes_validated_total: statusIntakeFull)
	codeLedgerUnavailable   = "ledger_unavailable"     // 503: the ledger unreadable for a vote's exact duplicate check or a receipt's batch
	codeElectionUnavailable = "election_unavailable"   // 503: no election record, or the last one read older than --election-max-age (every route that reads it)
	codeNotReady            = "not_ready"              // 503: /readyz, the queue (Redis) unreachable
	codeInvalidVoteID       = "invalid_vote_id"        // 400
	codeNoVote              = "no_vote"                // 404: unknown credentials or vote id
	codeResultsLoading      = "results_loading"        // 503: results cache still loading
	codeLogOff              = "log_off"                // 404: this gateway keeps no intake log
	codeNoHead              = "no_head"                // 404: no tree head signed yet
	codeHeadPending         = "head_pending"           // 503: no signed head covers the vote yet
	codeStarting            = "starting"               // 503: the gateway waits at start for the election record on the ledger (Front: every route but /healthz and /metrics)
	codeStopping            = "stopping"               // 503: a vote that reaches the intake after the gateway's stop grace ran out (its body still arriving, say), when the intake refuses new votes (dedup.ErrClosed: not stored), or whose Redis call the stop cut after waiting for it (dedup.ErrAborted: maybe stored); the connection is closed after the answer
)

// apiError is the body of every error answer.
type apiError struct {
	Error errorBody `json:"error"`
}

type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// Contest is the contest the refusal is about, when it is about one
	// (unknown_contest, unknown_choice, not_eligible, duplicate; no_vote
	// of a look-up).
	Contest string `json:"contest,omitempty"`
	// AttemptCount is set for duplicates: attempts refused so far for this
	// voter, this one included.
	AttemptCount int64 `json:"attempt_count,omitempty"`
}

// abort answers an error and stops the handler chain.
func abort(c *gin.Context, status int, code, message string) {
	abortBody(c, status, errorBody{Code: code, Message: message})
}

func abortBody(c *gin.Context, status int, body errorBody) {
	c.Set(ctxErrorCode, body.Code)
	c.AbortWithStatusJSON(status, apiError{Error: body})
}

// abortRetry answers an error with a Retry-After header (whole seconds,
// at least 1).
func abortRetry(c *gin.Context, status int, code, message string, after time.Duration) {
	secs := max(int64((after+time.Second-1)/time.Second), 1)
	c.Header("Retry-After", strconv.FormatInt(secs, 10))
	abort(c, status, code, message)
}

// noElection answers 503 election_unavailable for the election record's
// absence (err: why Elections, or a receipt's roll look-up, has none),
// alike on every route that needs the record. Its warn line is sampled
// (sampledLine): a ledger outage longer than --election-max-age fails
// every request.
func (s *Server) noElection(c *gin.Context, err error) {
	s.sampledLine(c, slog.LevelWarn, "no election record", codeElectionUnavailable, "", err)
	s.unavailable(c, codeElectionUnavailable, "the election record is not available")
}

// unavailable answers 503 for a fault on our side.
func (s *Server) unavailable(c *gin.Context, code, message string) {
	abortRetry(c, http.StatusServiceUnavailable, code, message, s.cfg.RetryAfter)
}

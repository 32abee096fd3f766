package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/gateway/receipt"
	"github.com/votechain/votechain/gateway/results"
)

// Results serves pre-encoded results (implemented by *results.Cache).
type Results interface {
	All() (results.Response, error)
	Contest(contest string) (results.Response, error)
	ContestState(contest, state string) (results.Response, error)
}

// Receipts builds voters' receipts (implemented by *receipt.Service).
type Receipts interface {
	ByVoteID(ctx context.Context, voteID string) (ballot.Receipt, error)
	ByCredentials(ctx context.Context, voterID, credential, contest string) (ballot.Receipt, error)
}

// getResults is GET /api/v1/results: every contest's results, nationally
// and per state, from the read cache, with ETag / If-None-Match.
func (s *Server) getResults(c *gin.Context) {
	r, err := s.deps.Results.All()
	s.writeResults(c, r, err)
}

// getContestResults is GET /api/v1/results/{contest}: one contest's
// results, nationally and per state.
func (s *Server) getContestResults(c *gin.Context) {
	r, err := s.deps.Results.Contest(c.Param("contest"))
	s.writeResults(c, r, err)
}

// getContestStateResults is GET /api/v1/results/{contest}/{state}.
func (s *Server) getContestStateResults(c *gin.Context) {
	r, err := s.deps.Results.ContestState(c.Param("contest"), c.Param("state"))
	s.writeResults(c, r, err)
}

func (s *Server) writeResults(c *gin.Context, r results.Response, err error) {
	switch {
	case err == nil:
		r.Write(c.Writer, c.Request)
	case errors.Is(err, results.ErrUnknownContest):
		abortBody(c, http.StatusNotFound, errorBody{Code: codeUnknownContest,
			Message: "no contest " + quote(c.Param("contest")) + " in this election", Contest: ballot.Clip(c.Param("contest"))})
	case errors.Is(err, results.ErrUnknownState):
		abort(c, http.StatusNotFound, codeUnknownState, "no state "+quote(c.Param("state"))+" in this election")
	default:
		s.unavailable(c, codeResultsLoading, "results are being loaded from the ledger")
	}
}

// getVote is GET /api/v1/votes/{vote_id}: the vote's receipt, pending or
// committed with its Merkle proof. The unguessable vote id is the only key:
// no endpoint shows a vote from a voter id alone.
func (s *Server) getVote(c *gin.Context) {
	id := c.Param("vote_id")
	if !ballot.ValidVoteID(id) {
		abort(c, http.StatusBadRequest, codeInvalidVoteID, "a vote id is 32 lower-case hex characters")
		return
	}
	// Ids carry the gateway's tag (ballot.NewIssuedVoteID): one that was
	// never issued is refused here, at no cost to Redis or the ledger.
	if !s.secret.IssuedVoteID(id) {
		abort(c, http.StatusNotFound, codeNoVote, "no vote has this id")
		return
	}
	s.writeReceipt(c, "", func(ctx context.Context) (ballot.Receipt, error) { return s.deps.Receipts.ByVoteID(ctx, id) })
}

// lookupVote is POST /api/v1/votes/lookup {voter_id, credential, contest?}:
// the receipt of the voter's own vote in the contest (optional when the
// election has only one). Wrong credentials, voters not on the roll
// and voters who have not voted all get the same 404, and the endpoint has
// its own, stricter rate limit against guessing.
func (s *Server) lookupVote(c *gin.Context) {
	if ok, wait := s.lookupLimit.allow(c.ClientIP(), s.cfg.Now()); !ok {
		abortRetry(c, http.StatusTooManyRequests, codeRateLimited, "too many look-ups; slow down", wait)
		return
	}
	var v [3]string
	if derr := s.decodeBody(c, lookupFields, v[:]); derr != nil {
		abort(c, derr.status, derr.code, derr.msg)
		return
	}
	e, err := s.deps.Elections.Election(c.Request.Context())
	if err != nil {
		s.noElection(c, err)
		return
	}
	contest, ok := electionContest(c, e, v[2])
	if !ok {
		return
	}
	s.writeReceipt(c, contest.ID, func(ctx context.Context) (ballot.Receipt, error) {
		return s.deps.Receipts.ByCredentials(ctx, v[0], v[1], contest.ID)
	})
}

// receiptView is a receipt as the API answers it: the receipt and the
// contest of its vote, when known (a pending vote looked up by id alone
// names none).
type receiptView struct {
	ballot.Receipt
	Contest string `json:"contest,omitempty"`
}

// writeReceipt answers the receipt get returns; contest is the contest the
// request named ("" if none), used while the receipt carries no vote. A
// failure of the gateway's Redis (receipt.ErrRedis) answers 503
// unavailable, the election record unavailable to a look-up's roll
// (receipt.ErrElection: none read, or stale) 503 election_unavailable as on
// every route, any other failure 503 ledger_unavailable.
func (s *Server) writeReceipt(c *gin.Context, contest string, get func(context.Context) (ballot.Receipt, error)) {
	r, err := get(c.Request.Context())
	switch {
	case err == nil:
		if r.Vote != nil {
			contest = r.Vote.Contest
		}
		c.JSON(http.StatusOK, receiptView{Receipt: r, Contest: contest})
	case errors.Is(err, receipt.ErrNoVote) && contest != "":
		abortBody(c, http.StatusNotFound, errorBody{Code: codeNoVote, Message: "no vote found for these credentials in contest " + quote(contest), Contest: contest})
	case errors.Is(err, receipt.ErrNoVote):
		abort(c, http.StatusNotFound, codeNoVote, "no vote found for these credentials")
	case errors.Is(err, receipt.ErrElection):
		s.noElection(c, err)
	case errors.Is(err, receipt.ErrRedis):
		s.sampledLine(c, slog.LevelWarn, "receipt unavailable", codeUnavailable, "", err)
		s.unavailable(c, codeUnavailable, "the vote's record cannot be read right now")
	default:
		s.sampledLine(c, slog.LevelWarn, "receipt unavailable", codeLedgerUnavailable, "", err)
		s.unavailable(c, codeLedgerUnavailable, "the receipt cannot be read from the ledger right now")
	}
}

// quote echoes a client value inside an error message, clipped
// (ballot.Clip: at most 80 bytes and "...", valid UTF-8 kept valid).
func quote(s string) string { return `"` + ballot.Clip(s) + `"` }

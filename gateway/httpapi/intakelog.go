package httpapi

import (
	"context"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"
	"github.com/gin-gonic/gin/binding"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/gateway/intakelog"
)

// IntakeLog serves the intake log (implemented by *intakelog.Log).
type IntakeLog interface {
	Acceptance(ctx context.Context, voteID, state string, index uint64) (ballot.Acceptance, error)
	Head(ctx context.Context, state string) (ballot.TreeHead, error)
	Entries(ctx context.Context, state string, start, end uint64) ([][]byte, error)
	ConsistencyProof(ctx context.Context, state string, first, second uint64) ([][32]byte, error)
}

// maxEntries bounds the entries of one GET /api/v1/log/{state}/entries.
const maxEntries = 1000

// logEntries is the answer of GET /api/v1/log/{state}/entries.
type logEntries struct {
	Start   uint64   `json:"start"`
	Entries []string `json:"entries"` // encoded votes (ballot.Vote.Encode), hex
}

// logConsistency is the answer of GET /api/v1/log/{state}/consistency.
type logConsistency struct {
	First  uint64   `json:"first"`
	Second uint64   `json:"second"`
	Proof  []string `json:"proof"`
}

// getAcceptance is GET /api/v1/votes/{vote_id}/acceptance?state=S&index=N:
// the vote's signed acceptance receipt (the 202 answer gives this URL),
// waiting up to the log's Wait (2 s) for a signed head that covers it.
func (s *Server) getAcceptance(c *gin.Context) {
	id := c.Param("vote_id")
	if !ballot.ValidVoteID(id) {
		abort(c, http.StatusBadRequest, codeInvalidVoteID, "a vote id is 32 lower-case hex characters")
		return
	}
	state, index, ok := s.logQuery(c, "index")
	if !ok {
		return
	}
	if !s.secret.IssuedVoteID(id) {
		abort(c, http.StatusNotFound, codeNoVote, "no vote has this id")
		return
	}
	a, err := s.deps.IntakeLog.Acceptance(c.Request.Context(), id, state, index)
	switch {
	case err == nil:
		c.JSON(http.StatusOK, a)
	case errors.Is(err, intakelog.ErrNoEntry):
		abort(c, http.StatusNotFound, codeNoVote, "the log of "+state+" holds no such vote at index "+strconv.FormatUint(index, 10))
	case errors.Is(err, intakelog.ErrNoHead):
		abortRetry(c, http.StatusServiceUnavailable, codeHeadPending, "no signed tree head covers this vote yet; retry in a second", s.cfg.RetryAfter/2)
	default:
		s.sampledLine(c, slog.LevelWarn, "acceptance receipt unavailable", codeUnavailable, state, err)
		s.unavailable(c, codeUnavailable, "the acceptance receipt cannot be built right now")
	}
}

// getLogHead is GET /api/v1/log/{state}/head: the latest signed tree head.
func (s *Server) getLogHead(c *gin.Context) {
	state, ok := s.logState(c)
	if !ok {
		return
	}
	h, err := s.deps.IntakeLog.Head(c.Request.Context(), state)
	switch {
	case err == nil:
		c.JSON(http.StatusOK, h)
	case errors.Is(err, intakelog.ErrNoHead):
		abort(c, http.StatusNotFound, codeNoHead, "no tree head of "+state+" is signed yet")
	default:
		s.sampledLine(c, slog.LevelWarn, "log head unavailable", codeUnavailable, state, err)
		s.unavailable(c, codeUnavailable, "the log cannot be read right now")
	}
}

// getLogEntries is GET /api/v1/log/{state}/entries?start=N&end=M: entries
// [N, M) of the log (at most 1000; fewer at its end), as JSON (logEntries)
// or, when the Accept header prefers ballot.EntryFramesType, as frames
// (ballot.AppendEntryFrames; an entry too long for a frame, which no
// encoded vote is, sends the answer as JSON).
func (s *Server) getLogEntries(c *gin.Context) {
	state, start, end, ok := s.logRange(c, "start", "end")
	if !ok {
		return
	}
	if end <= start || end-start > maxEntries {
		abort(c, http.StatusBadRequest, codeInvalidField, "end must be after start, by at most 1000")
		return
	}
	entries, err := s.deps.IntakeLog.Entries(c.Request.Context(), state, start, end)
	if err != nil {
		s.sampledLine(c, slog.LevelWarn, "log entries unavailable", codeUnavailable, state, err)
		s.unavailable(c, codeUnavailable, "the log cannot be read right now")
		return
	}
	if c.NegotiateFormat(binding.MIMEJSON, ballot.EntryFramesType) == ballot.EntryFramesType {
		if body, err := ballot.AppendEntryFrames(make([]byte, 0, framedLen(entries)), entries); err == nil {
			c.Data(http.StatusOK, ballot.EntryFramesType, body)
			return
		}
	}
	out := logEntries{Start: start, Entries: make([]string, len(entries))}
	for i, e := range entries {
		out.Entries[i] = hex.EncodeToString(e)
	}
	c.JSON(http.StatusOK, out)
}

// framedLen is the length of entries as frames (ballot.AppendEntryFrames).
func framedLen(entries [][]byte) int {
	n := 2 * len(entries)
	for _, e := range entries {
		n += len(e)
	}
	return n
}

// getLogConsistency is GET /api/v1/log/{state}/consistency?first=M&second=N.
func (s *Server) getLogConsistency(c *gin.Context) {
	state, first, second, ok := s.logRange(c, "first", "second")
	if !ok {
		return
	}
	proof, err := s.deps.IntakeLog.ConsistencyProof(c.Request.Context(), state, first, second)
	switch {
	case err == nil:
		c.JSON(http.StatusOK, logConsistency{First: first, Second: second, Proof: ballot.HexHashes(proof)})
	case errors.Is(err, ballot.ErrConsistencyOrder), errors.Is(err, ballot.ErrSizeOutOfRange), errors.Is(err, intakelog.ErrDiverged):
		abort(c, http.StatusBadRequest, codeInvalidField, "first must not exceed second, nor second the log's size")
	default:
		s.sampledLine(c, slog.LevelWarn, "consistency proof unavailable", codeUnavailable, state, err)
		s.unavailable(c, codeUnavailable, "the log cannot be read right now")
	}
}

// logState checks that the log is on and the state is the election's; the
// state comes from the path or, failing that, the query.
func (s *Server) logState(c *gin.Context) (string, bool) {
	if s.deps.IntakeLog == nil {
		abort(c, http.StatusNotFound, codeLogOff, "this gateway keeps no intake log")
		return "", false
	}
	state := c.Param("state")
	if state == "" {
		state = c.Query("state")
	}
	e, err := s.deps.Elections.Election(c.Request.Context())
	if err != nil {
		s.noElection(c, err)
		return "", false
	}
	if !e.HasState(state) {
		abort(c, http.StatusNotFound, codeUnknownState, "no state "+quote(state)+" in this election")
		return "", false
	}
	return state, true
}

// logQuery is logState and the unsigned query parameter name.
func (s *Server) logQuery(c *gin.Context, name string) (string, uint64, bool) {
	state, ok := s.logState(c)
	if !ok {
		return "", 0, false
	}
	n, ok := uintQuery(c, name)
	return state, n, ok
}

// logRange is logQuery with two parameters, from and to.
func (s *Server) logRange(c *gin.Context, from, to string) (string, uint64, uint64, bool) {
	state, a, ok := s.logQuery(c, from)
	if !ok {
		return "", 0, 0, false
	}
	b, ok := uintQuery(c, to)
	return state, a, b, ok
}

// uintQuery reads a required unsigned decimal query parameter, answering
// 400 invalid_field when it is missing or malformed.
func uintQuery(c *gin.Context, name string) (uint64, bool) {
	n, err := strconv.ParseUint(c.Query(name), 10, 63)
	if err != nil {
		abort(c, http.StatusBadRequest, codeInvalidField, "query parameter "+name+" must be an unsigned decimal integer")
		return 0, false
	}
	return n, true
}

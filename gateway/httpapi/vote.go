package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/gateway/dedup"
)

// voteRequest is the body of POST /api/v1/vote.
type voteRequest struct {
	VoterID    string
	Credential string
	State      string
	Contest    string // "" when the body names none: the election's sole contest
	Choice     string
}

// voteAccepted is the 202 answer (written by appendAccepted).
type voteAccepted struct {
	VoteID     string `json:"vote_id"`
	Contest    string `json:"contest"`
	Status     string `json:"status"`
	ReceiptURL string `json:"receipt_url"`
	// LogIndex and AcceptanceURL are set when the intake log is on: the
	// vote's index in its state's log and where its signed acceptance
	// receipt is served.
	LogIndex      *int64 `json:"log_index,omitempty"`
	AcceptanceURL string `json:"acceptance_url,omitempty"`
}

// jsonContentType is the Content-Type header of JSON answers, as gin
// writes it; header maps share it (never modified).
var jsonContentType = []string{"application/json; charset=utf-8"}

// appendAccepted appends the voteAccepted answer of a vote id (32 hex) in a
// contest (a ballot.ValidIdent), neither needing escapes, of a state, at
// logIndex in the state's log (-1: the log is off), without reflection.
func appendAccepted(b []byte, id, contest, state string, logIndex int64) []byte {
	b = append(b, `{"vote_id":"`...)
	b = append(b, id...)
	b = append(b, `","contest":"`...)
	b = append(b, contest...)
	b = append(b, `","status":"pending","receipt_url":"`...)
	b = append(b, ballot.ReceiptPathPrefix...)
	b = append(b, id...)
	if logIndex < 0 {
		return append(b, `"}`...)
	}
	b = append(b, `","log_index":`...)
	b = strconv.AppendInt(b, logIndex, 10)
	b = append(b, `,"acceptance_url":"`...)
	b = appendAcceptanceURL(b, id, state, logIndex)
	return append(b, `"}`...)
}

// appendAcceptanceURL appends the path of a vote's acceptance receipt
// (the state is a validated state code: nothing to escape).
func appendAcceptanceURL(b []byte, id, state string, logIndex int64) []byte {
	b = append(b, ballot.ReceiptPathPrefix...)
	b = append(b, id...)
	b = append(b, ballot.AcceptancePathSuffix...)
	b = append(b, "?state="...)
	b = append(b, state...)
	b = append(b, "&index="...)
	return strconv.AppendInt(b, logIndex, 10)
}

// Field limits: generous for any real id scheme, small enough that a body
// stays well under the size limit.
const (
	maxVoterID    = 128
	maxCredential = 256
)

// field is one string field of a strict JSON request body. An optional
// field may be left out (its value is then ""), never given empty.
type field struct {
	name     string
	max      int
	optional bool
}

// Fields of the request bodies, in the order they are reported.
var (
	fieldVoterID    = field{name: "voter_id", max: maxVoterID}
	fieldCredential = field{name: "credential", max: maxCredential}
	fieldContest    = field{name: "contest", max: 64, optional: true}
	// voteFields are the body of POST /api/v1/vote.
	voteFields = []field{fieldVoterID, fieldCredential, {name: "state", max: 8}, {name: "choice", max: 64}, fieldContest}
	// lookupFields are the body of POST /api/v1/votes/lookup.
	lookupFields = []field{fieldVoterID, fieldCredential, fieldContest}
)

// decodeError is a refused request body: the status and error to answer.
type decodeError struct {
	status int
	code   string
	msg    string
}

func (e *decodeError) Error() string { return e.msg }

func badField(format string, args ...any) *decodeError {
	return &decodeError{http.StatusBadRequest, codeInvalidField, fmt.Sprintf(format, args...)}
}

// voteRequestOf is the request of voteFields' values.
func voteRequestOf(v *[5]string) voteRequest {
	return voteRequest{VoterID: v[0], Credential: v[1], State: v[2], Choice: v[3], Contest: v[4]}
}

// decodeFields reads a request body strictly: exactly one JSON object whose
// keys are the given names (case-sensitive; unknown or repeated keys
// refused; every field present unless optional), each a non-empty string
// within its length limit. It sets values (as long as fields) in the
// fields' order, "" for an optional field left out; the values do not
// share body's memory. Only *decodeError is returned.
//
// A well-formed body of plain strings is read in one pass (scanPlain, with
// one allocation: the body as a string);
// anything else goes through encoding/json, which also words the refusals.
func decodeFields(body []byte, fields []field, values []string) *decodeError {
	if scanPlain(string(body), fields, values) {
		return nil
	}
	return decodeStrict(body, fields, values)
}

// decodeStrict is decodeFields through encoding/json, for any body.
func decodeStrict(body []byte, fields []field, values []string) *decodeError {
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&raw); err != nil {
		return &decodeError{http.StatusBadRequest, codeInvalidJSON, "body is not a JSON object: " + err.Error()}
	}
	if raw == nil {
		return &decodeError{http.StatusBadRequest, codeInvalidJSON, "body is not a JSON object"}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return &decodeError{http.StatusBadRequest, codeInvalidJSON, "data after the JSON object"}
	}
	if err := noRepeatedKeys(body, len(fields)); err != nil {
		return err
	}
	clear(values)
	for i, f := range fields {
		v, ok := raw[f.name]
		if !ok {
			if f.optional {
				continue
			}
			return badField("missing field %q", f.name)
		}
		var str string // not &values[i]: values would escape on every path
		if len(v) == 0 || v[0] != '"' || json.Unmarshal(v, &str) != nil {
			return badField("field %q must be a string", f.name)
		}
		if str == "" || len(str) > f.max {
			return badField("field %q must have 1 to %d bytes", f.name, f.max)
		}
		values[i] = str
	}
	for k := range raw {
		if !slices.ContainsFunc(fields, func(f field) bool { return f.name == k }) {
			return badField("unknown field %q", ballot.Clip(k))
		}
	}
	return nil
}

// scanPlain reads body in one pass if it is a JSON object whose keys are
// the fields' names, each once and every required one present, and whose
// values are strings within their limits, every key and value printable
// ASCII without escapes (what clients send). It reports false for anything else, valid or not, and
// never accepts a body decodeFields would refuse. It sets values (as long
// as fields; "" for an optional field left out), which share body's memory,
// and may leave them set when it reports false.
func scanPlain(body string, fields []field, values []string) bool {
	if len(fields) > 64 {
		return false
	}
	clear(values)
	var seen, required uint64
	for k, f := range fields {
		if !f.optional {
			required |= 1 << k
		}
	}
	i := skipSpace(body, 0)
	if i == len(body) || body[i] != '{' {
		return false
	}
	for {
		key, j, ok := plainString(body, skipSpace(body, i+1))
		if !ok {
			return false
		}
		k := slices.IndexFunc(fields, func(f field) bool { return f.name == key })
		if k < 0 || seen&(1<<k) != 0 {
			return false
		}
		if i = skipSpace(body, j); i == len(body) || body[i] != ':' {
			return false
		}
		v, j, ok := plainString(body, skipSpace(body, i+1))
		if !ok || v == "" || len(v) > fields[k].max {
			return false
		}
		values[k], seen = v, seen|1<<k
		if i = skipSpace(body, j); i == len(body) {
			return false
		}
		if body[i] == '}' {
			break
		}
		if body[i] != ',' {
			return false
		}
	}
	if seen&required != required || skipSpace(body, i+1) != len(body) {
		return false
	}
	return true
}

// skipSpace returns the index of the first byte at or after i that is not
// JSON whitespace.
func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

// plainString reads a JSON string at s[i] made of printable ASCII without
// escapes, returning its content and the index after its closing quote.
func plainString(s string, i int) (string, int, bool) {
	if i == len(s) || s[i] != '"' {
		return "", 0, false
	}
	for j := i + 1; j < len(s); j++ {
		switch b := s[j]; {
		case b == '"':
			return s[i+1 : j], j + 1, true
		case b < 0x20 || b > 0x7e || b == '\\':
			return "", 0, false
		}
	}
	return "", 0, false
}

// noRepeatedKeys refuses an object that names a key twice: decoders differ
// on which value wins, so such a body is ambiguous. The body is a valid JSON
// object here.
func noRepeatedKeys(body []byte, expected int) *decodeError {
	dec := json.NewDecoder(bytes.NewReader(body))
	_, _ = dec.Token() // '{'
	seen := make(map[string]bool, expected)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return &decodeError{http.StatusBadRequest, codeInvalidJSON, err.Error()}
		}
		key, _ := tok.(string)
		if seen[key] {
			return badField("field %q given twice", ballot.Clip(key))
		}
		seen[key] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return &decodeError{http.StatusBadRequest, codeInvalidJSON, err.Error()}
		}
	}
	return nil
}

// decodeBody checks the media type, reads at most MaxBodyBytes and decodes
// the body into values (decodeFields). A body of known length is read into
// a pooled buffer (decodeFields copies what it keeps). A body read whole is
// closed, so net/http need not look for more of it before answering.
func (s *Server) decodeBody(c *gin.Context, fields []field, values []string) *decodeError {
	ct := c.Request.Header["Content-Type"]
	if len(ct) == 0 || ct[0] != "application/json" { // the common form needs no parsing
		mt, _, err := mime.ParseMediaType(c.GetHeader("Content-Type"))
		if err != nil || mt != "application/json" {
			return &decodeError{http.StatusUnsupportedMediaType, codeUnsupportedMedia, "Content-Type must be application/json"}
		}
	}
	n := c.Request.ContentLength
	if n > s.cfg.MaxBodyBytes {
		return s.tooLarge()
	}
	if n < 0 { // length unknown (chunked): read up to the limit
		body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, s.cfg.MaxBodyBytes))
		if err != nil {
			return s.bodyError(err)
		}
		c.Request.Body.Close()
		return decodeFields(body, fields, values)
	}
	buf := s.bodies.Get().(*[]byte)
	defer s.bodies.Put(buf)
	if int64(cap(*buf)) < n {
		*buf = make([]byte, n)
	}
	body := (*buf)[:n]
	if _, err := io.ReadFull(c.Request.Body, body); err != nil {
		return s.bodyError(err)
	}
	c.Request.Body.Close()
	return decodeFields(body, fields, values)
}

// bodyError is the refusal of a body that could not be read.
func (s *Server) bodyError(err error) *decodeError {
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return s.tooLarge()
	}
	return &decodeError{http.StatusBadRequest, codeInvalidJSON, "reading the body: " + err.Error()}
}

func (s *Server) tooLarge() *decodeError {
	return &decodeError{http.StatusRequestEntityTooLarge, codeBodyTooLarge, fmt.Sprintf("body larger than %d bytes", s.cfg.MaxBodyBytes)}
}

// postVote is POST /api/v1/vote: validate, check the election, then hand the
// vote to the intake, which checks eligibility, deduplicates and stores it.
// 202 only once the intake says the vote is on disk.
func (s *Server) postVote(c *gin.Context) {
	start := time.Now()
	s.m.submitted.Inc()
	defer func() {
		status := "accepted"
		if v, ok := c.Get(ctxValidatedStatus); ok {
			status = v.(string)
		} else if code, ok := c.Get(ctxErrorCode); ok {
			status = code.(string)
		}
		s.m.validatedBy.get(status).Inc()
		s.m.latency.Observe(time.Since(start).Seconds())
	}()

	var v [5]string
	if derr := s.decodeBody(c, voteFields, v[:]); derr != nil {
		abort(c, derr.status, derr.code, derr.msg)
		return
	}
	s.castVote(c, voteRequestOf(&v))
}

// castVote handles a well-formed request.
func (s *Server) castVote(c *gin.Context, req voteRequest) {
	ctx := c.Request.Context()
	e, err := s.deps.Elections.Election(ctx)
	if err != nil {
		s.noElection(c, err)
		return
	}
	now := s.cfg.Now()
	switch {
	case !e.OpenAt(now):
		abort(c, http.StatusForbidden, codeElectionClosed, "the election is not open for voting")
		return
	case !e.HasState(req.State):
		abort(c, http.StatusUnprocessableEntity, codeUnknownState, fmt.Sprintf("state %q is not in this election", req.State))
		return
	}
	contest, ok := s.contestOf(c, e, req)
	if !ok {
		return
	}
	if depth := s.watch.depth(req.State); s.cfg.MaxQueueDepth > 0 && depth > s.cfg.MaxQueueDepth {
		s.unavailable(c, codeOverloaded, "too many votes waiting for the ledger; retry later")
		return
	}
	id, err := s.voteID()
	if err != nil { // crypto/rand failing: every vote would, so sampled
		s.sampledLine(c, slog.LevelError, "vote id", codeUnavailable, req.State, err)
		s.unavailable(c, codeUnavailable, "could not allocate a vote id")
		return
	}
	nullifier := ballot.NullifierOf(s.secret.VoterKey(e.ID, req.VoterID, req.Credential), contest.ID)
	res, err := s.deps.Intake.Accept(ctx, dedup.Attempt{
		Vote: ballot.Vote{
			ID:        id,
			State:     req.State,
			Contest:   contest.ID,
			Nullifier: ballot.HashHex(nullifier),
			Choice:    req.Choice,
			CastAt:    now.UnixMilli(),
		},
		RequestID: requestIDOf(c),
	})
	if res.BloomMaybe || errors.Is(err, dedup.ErrLedger) {
		s.m.ledgerExact.Inc()
	}
	if err != nil {
		s.intakeFailed(c, req.State, err)
		return
	}
	if res.BloomMaybe {
		result := "false_positive"
		if res.Outcome == dedup.Duplicate {
			result = "duplicate"
		}
		s.m.bloomMaybe.WithLabelValues(result).Inc()
	}
	switch res.Outcome {
	case dedup.Accepted:
		logIndex := res.LogIndex
		if s.deps.IntakeLog == nil {
			logIndex = -1 // no acceptance receipts served here
		}
		h := c.Writer.Header()
		h["Location"] = []string{ballot.ReceiptPathPrefix + id} // ballot.ReceiptPath(id): a valid id needs no escape
		h["Content-Type"] = jsonContentType
		c.Writer.WriteHeader(http.StatusAccepted)
		buf := s.bodies.Get().(*[]byte)
		*buf = appendAccepted((*buf)[:0], id, contest.ID, req.State, logIndex)
		c.Writer.Write(*buf) // copied into the connection's buffer
		s.bodies.Put(buf)
	case dedup.NotEligible:
		abortBody(c, http.StatusForbidden, errorBody{
			Code:    codeNotEligible,
			Message: fmt.Sprintf("voter id and credential are not on this state's roll for contest %q", contest.ID),
			Contest: contest.ID,
		})
	case dedup.Duplicate:
		s.m.duplicates.Inc()
		abortBody(c, http.StatusConflict, errorBody{
			Code:         codeDuplicate,
			Message:      fmt.Sprintf("a vote in contest %q with this voter id and credential was already accepted", contest.ID),
			Contest:      contest.ID,
			AttemptCount: res.Attempts,
		})
	default:
		s.intakeFailed(c, req.State, fmt.Errorf("%w: %v", errUnknownOutcome, res.Outcome))
	}
}

// errUnknownOutcome is an intake's answer castVote does not know: a bug,
// logged under a message of its own, apart from the intake's failures.
var errUnknownOutcome = errors.New("httpapi: the intake answered an unknown outcome")

// intakeFailed answers 503 for an intake error of a vote in state; the
// vote may or may not be stored, so it is never acknowledged. Its log
// lines name the state, not the vote id: with the access log's client
// address, an id would tie a voter to a choice.
func (s *Server) intakeFailed(c *gin.Context, state string, err error) {
	level, what := slog.LevelError, "vote intake failed"
	code, message := codeUnavailable, "votes cannot be stored right now; retry later"
	switch {
	case errors.Is(err, dedup.ErrLedger):
		level, what, code, message = slog.LevelWarn, "exact duplicate check failed", codeLedgerUnavailable, "the ledger cannot be reached to check this vote; retry later"
	case errors.Is(err, dedup.ErrNotReplicated):
		level, what, message = slog.LevelWarn, "vote not acknowledged by the Redis replicas", "the vote could not be confirmed on a Redis replica; retry later (a 409 duplicate on retry means it was kept)"
	case errors.Is(err, dedup.ErrClosed):
		level, what, code, message = slog.LevelInfo, "vote refused: the gateway is stopping", codeStopping, "the gateway is stopping; retry later or on another gateway (the vote was not stored)"
	case errors.Is(err, dedup.ErrAborted):
		level, what, code, message = slog.LevelWarn, "vote's Redis call cut by the gateway's stop", codeStopping, "the gateway is stopping; retry later or on another gateway (a 409 duplicate on retry means the vote was kept)"
	case errors.Is(err, dedup.ErrBusy):
		// At debug: under a surge it comes for every vote refused, and the
		// access log's warn lines for the 503s (code overloaded) say it, at
		// most two a second (warnSampler).
		level, what, code, message = slog.LevelDebug, "vote refused: too many votes waiting for Redis", codeOverloaded, "too many votes waiting to be stored; retry later"
		c.Set(ctxValidatedStatus, statusIntakeFull)
	case errors.Is(err, context.Canceled):
		level, what, message = slog.LevelInfo, "client went away", "request cancelled"
	case errors.Is(err, errUnknownOutcome):
		what = "vote intake answered an unknown outcome"
	case errors.Is(err, dedup.ErrScriptContract):
		// A bug: the script may have stored the vote before answering.
		what, message = "vote intake: the dedup script broke its contract", "votes cannot be stored right now; retry later (a 409 duplicate on retry means the vote was kept)"
	}
	// At warn or error, a line per vote under an outage: sampled by kind
	// and error (warnSampler), the others at debug.
	s.sampledLine(c, level, what, code, state, err)
	s.unavailable(c, code, message)
}

// contestOf resolves the request's contest and checks its choice: the named
// contest, or the election's sole contest when the request names none. It
// answers the refusal itself and reports false if there is none.
func (s *Server) contestOf(c *gin.Context, e *ballot.Election, req voteRequest) (ballot.Contest, bool) {
	contest, ok := electionContest(c, e, req.Contest)
	if ok && !contest.HasChoice(req.Choice) {
		abortBody(c, http.StatusUnprocessableEntity, errorBody{
			Code:    codeUnknownChoice,
			Message: fmt.Sprintf("choice %s is not one of contest %q's: %s", quote(req.Choice), contest.ID, strings.Join(contest.Choices, ", ")),
			Contest: contest.ID,
		})
		return ballot.Contest{}, false
	}
	return contest, ok
}

// electionContest resolves a request's contest id: the contest named, or
// the election's sole contest when id is "". It answers 422
// contest_required or unknown_contest itself and reports false if there is
// none.
func electionContest(c *gin.Context, e *ballot.Election, id string) (ballot.Contest, bool) {
	if id == "" {
		sole, ok := e.SoleContest()
		if !ok {
			abort(c, http.StatusUnprocessableEntity, codeContestRequired,
				fmt.Sprintf("this election has %d contests; name one of them in \"contest\": %s", len(e.Contests), strings.Join(e.ContestIDs(), ", ")))
			return ballot.Contest{}, false
		}
		id = sole
	}
	contest, ok := e.Contest(id)
	if !ok {
		abortBody(c, http.StatusUnprocessableEntity, errorBody{
			Code:    codeUnknownContest,
			Message: fmt.Sprintf("contest %s is not on the ballot: %s", quote(id), strings.Join(e.ContestIDs(), ", ")),
			Contest: id,
		})
	}
	return contest, ok
}

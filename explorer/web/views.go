package web

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/explorer/index"
	"github.com/votechain/votechain/explorer/proof"
)

// Pager is the position of a page in a list.
type Pager struct {
	Page    int    `json:"page"` // 1-based
	Size    int    `json:"page_size"`
	Total   int64  `json:"total"`
	Pages   int64  `json:"pages"`
	PrevURL string `json:"prev,omitempty"`
	NextURL string `json:"next,omitempty"`
}

// pager reads ?page= (decimal digits) and returns the page of a list of
// total rows and its row offset. A page past the last is the last (the
// answer's page says which), however many digits it has, so no page
// number makes the offset overflow; a total of math.MaxInt64 (not known
// yet) lets every page through.
func (s *Server) pager(r *http.Request, total int64) (Pager, int, error) {
	p := Pager{Page: 1, Size: s.cfg.PageSize, Total: total, Pages: 1}
	if total > 0 {
		p.Pages = (total-1)/int64(p.Size) + 1
	}
	if v := r.URL.Query().Get("page"); v != "" {
		n, err := strconv.ParseUint(v, 10, 63) // no sign: "+2" is no page number
		if errors.Is(err, strconv.ErrRange) {
			n, err = math.MaxInt64, nil // digits past any last page
		}
		if err != nil || n < 1 {
			return p, 0, fmt.Errorf("%w: page %q is not a positive number", errBadRequest, v)
		}
		p.Page = int(min(int64(n), p.Pages))
	}
	link := func(page int) string {
		q := r.URL.Query()
		q.Set("page", strconv.Itoa(page))
		return r.URL.Path + "?" + q.Encode()
	}
	if p.Page > 1 {
		p.PrevURL = link(p.Page - 1)
	}
	if int64(p.Page) < p.Pages {
		p.NextURL = link(p.Page + 1)
	}
	return p, (p.Page - 1) * p.Size, nil
}

type dashboardView struct {
	Totals       index.Totals   `json:"totals"`
	LedgerHeight uint64         `json:"ledger_height"`
	LedgerError  string         `json:"ledger_error,omitempty"`
	BrokenBlocks int64          `json:"broken_blocks"` // blocks failing the hash-chain or data-hash check
	Throughput   []index.Point  `json:"votes_per_second"`
	Results      ballot.Results `json:"recount"` // per contest, choice and state, recounted from the ledger's transactions
	// Contests are the recount by contest, in ballot order, with each
	// contest's title, kind and choices from the indexed election record.
	Contests []contestResults `json:"contests"`
	Blocks   []index.Block    `json:"latest_blocks"`
	Batches  []index.Batch    `json:"latest_batches"`
}

func (s *Server) dashboard(r *http.Request) (any, error) {
	ctx := r.Context()
	var v dashboardView
	var err error
	if v.Totals, err = s.cfg.Index.Totals(ctx); err != nil {
		return nil, err
	}
	if v.LedgerHeight, v.LedgerError, err = s.ledgerHeight(ctx); err != nil {
		return nil, err
	}
	if v.BrokenBlocks, err = s.cfg.Index.BrokenBlocks(ctx); err != nil {
		return nil, err
	}
	if v.Throughput, err = s.cfg.Index.Throughput(ctx, 60); err != nil {
		return nil, err
	}
	if v.Results, err = s.cfg.Index.Recount(ctx); err != nil {
		return nil, err
	}
	e, err := s.cfg.Index.Election(ctx)
	if err != nil {
		return nil, err
	}
	v.Contests = resultsByContest(e, v.Results)
	if v.Blocks, err = s.cfg.Index.Blocks(ctx, 0, 10); err != nil {
		return nil, err
	}
	v.Batches, _, err = s.cfg.Index.Batches(ctx, "", 0, 10)
	return v, err
}

// ledgerHeight asks the peer for the channel height under the request's
// context ctx. A failure is logged and returned as the page's note (the
// page is shown without the height), unless the client went away
// (clientGone): then it is returned as the error, unlogged, to answer
// nobody.
func (s *Server) ledgerHeight(ctx context.Context) (uint64, string, error) {
	if s.cfg.Ledger == nil {
		return 0, "no ledger connection", nil
	}
	lctx, cancel := context.WithTimeout(ctx, s.cfg.LedgerTimeout)
	defer cancel()
	h, err := s.cfg.Ledger.Height(lctx)
	switch {
	case clientGone(ctx, err):
		return 0, "", err
	case err != nil:
		s.cfg.Log.Warn("ledger height", "error", err)
		return 0, "the ledger cannot be reached", nil
	}
	return h, "", nil
}

type blocksView struct {
	Blocks []index.Block `json:"blocks"`
	Pager  Pager         `json:"pager"`
}

func (s *Server) blocks(r *http.Request) (any, error) {
	t, err := s.cfg.Index.Totals(r.Context())
	if err != nil {
		return nil, err
	}
	p, off, err := s.pager(r, int64(t.Blocks))
	if err != nil {
		return nil, err
	}
	blocks, err := s.cfg.Index.Blocks(r.Context(), off, p.Size)
	return blocksView{Blocks: blocks, Pager: p}, err
}

type blockView struct {
	Block   index.Block   `json:"block"`
	Txs     []index.Tx    `json:"transactions"`
	Pager   Pager         `json:"pager"`
	Batches []index.Batch `json:"batches"`
	Issues  []index.Issue `json:"issues"`
}

func (s *Server) block(r *http.Request) (any, error) {
	n, err := parseIndexed("block number", r.PathValue("number"))
	if err != nil {
		return nil, err
	}
	ctx := r.Context()
	v := blockView{}
	if v.Block, err = s.cfg.Index.Block(ctx, n); err != nil {
		return nil, fmt.Errorf("block %d: %w", n, err)
	}
	p, off, err := s.pager(r, int64(v.Block.Txs))
	if err != nil {
		return nil, err
	}
	v.Pager = p
	if v.Txs, err = s.cfg.Index.BlockTxs(ctx, n, off, p.Size); err != nil {
		return nil, err
	}
	if v.Batches, err = s.cfg.Index.BlockBatches(ctx, n); err != nil {
		return nil, err
	}
	v.Issues, err = s.cfg.Index.BlockIssues(ctx, n)
	return v, err
}

type txView struct {
	Txs    []index.Tx    `json:"transactions"` // one, unless a client reused the id
	Batch  *index.Batch  `json:"batch,omitempty"`
	Issues []index.Issue `json:"issues"`
}

func (s *Server) tx(r *http.Request) (any, error) {
	id := r.PathValue("id")
	ctx := r.Context()
	txs, err := s.cfg.Index.Txs(ctx, id)
	if err != nil {
		return nil, err
	}
	if len(txs) == 0 {
		return nil, fmt.Errorf("transaction %q: %w", id, errNotFound)
	}
	v := txView{Txs: txs, Issues: []index.Issue{}}
	for _, t := range txs {
		if t.State != "" && t.Note == "" {
			b, err := s.cfg.Index.Batch(ctx, t.State, t.Seq)
			if err != nil {
				return nil, err
			}
			v.Batch = &b
		}
		issues, err := s.cfg.Index.BlockIssues(ctx, t.Block)
		if err != nil {
			return nil, err
		}
		for _, is := range issues {
			if is.TxID == id {
				v.Issues = append(v.Issues, is)
			}
		}
	}
	return v, nil
}

type batchesView struct {
	State   string        `json:"state,omitempty"`
	Batches []index.Batch `json:"batches"`
	Pager   Pager         `json:"pager"`
}

func (s *Server) batches(r *http.Request) (any, error) {
	state := r.URL.Query().Get("state")
	if state != "" {
		if err := checkState(state); err != nil {
			return nil, err
		}
	}
	p, asked, err := s.pager(r, math.MaxInt64) // the page asked for: the count comes with the rows
	if err != nil {
		return nil, err
	}
	batches, total, err := s.cfg.Index.Batches(r.Context(), state, asked, p.Size)
	if err != nil {
		return nil, err
	}
	p, off, _ := s.pager(r, total)
	if off != asked { // past the last page: the last one's rows
		if batches, _, err = s.cfg.Index.Batches(r.Context(), state, off, p.Size); err != nil {
			return nil, err
		}
	}
	return batchesView{State: state, Batches: batches, Pager: p}, nil
}

type batchView struct {
	Batch  index.Batch   `json:"batch"`
	Votes  []index.Vote  `json:"votes"`
	Pager  Pager         `json:"pager"`
	Issues []index.Issue `json:"issues"`
}

func (s *Server) batch(r *http.Request) (any, error) {
	state := r.PathValue("state")
	if err := checkState(state); err != nil {
		return nil, err
	}
	seq, err := parseIndexed("batch seq", r.PathValue("seq"))
	if err != nil {
		return nil, err
	}
	ctx := r.Context()
	v := batchView{Issues: []index.Issue{}}
	if v.Batch, err = s.cfg.Index.Batch(ctx, state, seq); err != nil {
		return nil, fmt.Errorf("batch %s/%d: %w", state, seq, err)
	}
	p, off, err := s.pager(r, int64(v.Batch.Votes))
	if err != nil {
		return nil, err
	}
	v.Pager = p
	if v.Votes, err = s.cfg.Index.Votes(ctx, state, seq, off, p.Size); err != nil {
		return nil, err
	}
	issues, err := s.cfg.Index.BlockIssues(ctx, v.Batch.Block)
	for _, is := range issues {
		if is.TxID == v.Batch.TxID {
			v.Issues = append(v.Issues, is)
		}
	}
	return v, err
}

// maxIndexed is the largest block number or batch seq the index can hold:
// SQLite's integers are signed 64-bit (database/sql refuses a uint64 above).
const maxIndexed = math.MaxInt64

// parseIndexed parses a block number or batch seq (what) of a request; one
// the index cannot hold is refused.
func parseIndexed(what, v string) (uint64, error) {
	n, err := strconv.ParseUint(v, 10, 63)
	if err != nil {
		return 0, fmt.Errorf("%w: %s %q is not a number from 0 to %d", errBadRequest, what, v, uint64(maxIndexed))
	}
	return n, nil
}

// checkState refuses a state code of a request that is not one
// (ballot.ValidState). The index holds batches of well-formed states only
// (the audit decodes batches strictly), so such a code names none.
func checkState(state string) error {
	if !ballot.ValidState(state) {
		return fmt.Errorf("%w: state %q is not a state code (2 to 8 characters of A-Z and 0-9)", errBadRequest, state)
	}
	return nil
}

// checkVoteID refuses a vote id of a request that is not one
// (ballot.ValidVoteID). The index holds well-formed vote ids only, so
// such an id is not in it; saying so would tell a voter who mistyped or
// upper-cased their id that their vote is missing.
func checkVoteID(id string) error {
	if !ballot.ValidVoteID(id) {
		return fmt.Errorf("%w: vote id %q is not a vote id (32 lower-case hex characters)", errBadRequest, id)
	}
	return nil
}

// committed returns the index's batch (state, seq), or nil: a seq the index
// cannot hold names no batch.
func (s *Server) committed(ctx context.Context, state string, seq uint64) (*index.Batch, error) {
	if seq > maxIndexed {
		return nil, nil
	}
	b, err := s.cfg.Index.Batch(ctx, state, seq)
	if errors.Is(err, index.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &b, nil
}

// receipt builds the receipt of a committed vote from the index.
func (s *Server) receipt(r *http.Request) (any, error) {
	return s.receiptOf(r.Context(), r.PathValue("id"))
}

// receiptOf builds the receipt of the committed vote voteID; a malformed
// id is refused (checkVoteID).
func (s *Server) receiptOf(ctx context.Context, voteID string) (ballot.Receipt, error) {
	if err := checkVoteID(voteID); err != nil {
		return ballot.Receipt{}, err
	}
	v, err := s.cfg.Index.Vote(ctx, voteID)
	if err != nil {
		return ballot.Receipt{}, fmt.Errorf("vote %q: %w", voteID, err)
	}
	c, err := s.committed(ctx, v.State, v.Seq)
	if err != nil || c == nil {
		return ballot.Receipt{}, fmt.Errorf("batch of vote %q: %w", voteID, errors.Join(err, errNotFound))
	}
	votes, err := s.cfg.Index.BatchVotes(ctx, v.State, v.Seq)
	if err != nil {
		return ballot.Receipt{}, err
	}
	return proof.Receipt(c.Record(), c.Block, votes, v.Index)
}

type verifyView struct {
	VoteID      string          `json:"vote_id,omitempty"`
	ReceiptJSON string          `json:"-"`
	Receipt     *ballot.Receipt `json:"receipt,omitempty"`
	Result      *proof.Result   `json:"result,omitempty"`
	// Contest is the contest of the receipt's vote (the vote it carries,
	// else the indexed one) as the indexed election record names it.
	Contest *ballot.Contest `json:"contest,omitempty"`
	Choice  string          `json:"choice,omitempty"` // the vote's choice in Contest
}

// maxReceiptBytes bounds a pasted receipt (a proof of a 2^20-vote batch is
// 20 hashes; 64 KB is plenty).
const maxReceiptBytes = 64 << 10

// verify checks a pasted receipt (POST: a JSON body, or the form field
// "receipt" or "vote_id") or the receipt the index builds for ?vote_id=. A
// receipt of a batch in a block the index has not reached yet gets
// proof.VerdictNotIndexed. GET without a vote id is the empty form; a POST
// of another media type, or of neither a receipt nor a vote id, is refused.
func (s *Server) verify(r *http.Request) (any, error) {
	ctx := r.Context()
	var v verifyView
	var raw []byte
	if r.Method == http.MethodPost {
		switch media, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); media {
		case "application/json":
			body, err := readBody(r, "receipt", maxReceiptBytes)
			if err != nil {
				return nil, err
			}
			raw = body
		case "application/x-www-form-urlencoded":
			r.Body = http.MaxBytesReader(nil, r.Body, maxReceiptBytes)
			if err := r.ParseForm(); err != nil {
				return nil, bodyError(err, "receipt", maxReceiptBytes)
			}
			raw = []byte(strings.TrimSpace(r.PostFormValue("receipt")))
			v.VoteID = strings.TrimSpace(r.PostFormValue("vote_id"))
		default:
			return v, fmt.Errorf("%w: the body is %q: post a receipt as application/json, or the form field receipt as application/x-www-form-urlencoded",
				errUnsupportedMedia, r.Header.Get("Content-Type"))
		}
		if len(bytes.TrimSpace(raw)) == 0 && v.VoteID == "" {
			return v, fmt.Errorf("%w: nothing to verify: give a receipt or a vote id", errBadRequest)
		}
	} else if v.VoteID = strings.TrimSpace(r.URL.Query().Get("vote_id")); v.VoteID == "" {
		return v, nil // the empty form
	}
	var rc ballot.Receipt
	if len(raw) > 0 {
		v.ReceiptJSON = string(raw)
		if err := ballot.DecodeStrict(raw, &rc); err != nil {
			return v, fmt.Errorf("%w: the receipt is not a receipt JSON object: %v", errBadRequest, err)
		}
	} else {
		var err error
		if rc, err = s.receiptOf(ctx, v.VoteID); err != nil {
			return v, err
		}
		pretty, _ := json.MarshalIndent(rc, "", "  ")
		v.ReceiptJSON = string(pretty)
	}
	// The height first: a batch missing at a height read before it is
	// missing. The vote last: the index shows a vote no later than its
	// batch, so a batch found has its votes found (read before it, a
	// commit in between could show the batch without the vote: FAIL).
	height, _, err := s.cfg.Index.Checkpoint(ctx)
	if err != nil {
		return v, err
	}
	c, err := s.committed(ctx, rc.State, rc.Seq)
	if err != nil {
		return v, err
	}
	var vote *ballot.Vote
	if iv, err := s.cfg.Index.Vote(ctx, rc.VoteID); err == nil {
		vote = &iv.Vote
	} else if !errors.Is(err, index.ErrNotFound) {
		return v, err
	}
	var b *proof.Batch
	if c != nil {
		b = &proof.Batch{Record: c.Record(), RootOK: c.RootOK, RecordOK: c.RecordOK}
	}
	res := proof.Check(rc, vote, b, height)
	v.Receipt, v.Result = &rc, &res
	if rc.Vote != nil {
		vote = rc.Vote
	}
	if vote != nil {
		if v.Contest, err = s.contestOf(ctx, *vote); err != nil {
			return v, err
		}
		v.Choice = vote.Choice
	}
	return v, nil
}

// contestOf returns the contest vote names (the sole contest if it names
// none) as the indexed election record states it; a contest the record
// does not know, or any contest without a record, is shown by its id.
func (s *Server) contestOf(ctx context.Context, vote ballot.Vote) (*ballot.Contest, error) {
	e, err := s.cfg.Index.Election(ctx)
	if err != nil {
		return nil, err
	}
	id := vote.Contest
	if e == nil {
		return &ballot.Contest{ID: id, Title: id}, nil
	}
	if sole, ok := e.SoleContest(); id == "" && ok {
		id = sole
	}
	if c, ok := e.Contest(id); ok {
		return &c, nil
	}
	return &ballot.Contest{ID: id, Title: id}, nil
}

// readBody reads a request body of at most limit bytes holding what.
func readBody(r *http.Request, what string, limit int64) ([]byte, error) {
	data, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, limit))
	if err != nil {
		return nil, bodyError(err, what, limit)
	}
	return data, nil
}

// bodyError refuses a request body holding what that could not be read:
// over its limit of bytes, or malformed.
func bodyError(err error, what string, limit int64) error {
	if tooLarge := new(http.MaxBytesError); errors.As(err, &tooLarge) {
		return fmt.Errorf("%w: the %s is too large: the request body is over the limit of %d KiB", errBadRequest, what, limit>>10)
	}
	return fmt.Errorf("%w: body: %v", errBadRequest, err)
}

// auditRow compares one count of the recount with the chaincode's.
type auditRow struct {
	State   string `json:"state"`   // "" for national
	Contest string `json:"contest"` // "" for the counted, rejected and batch totals
	Choice  string `json:"choice"`  // a choice of Contest, or "(counted)", "(rejected)", "(batches)"
	Recount uint64 `json:"recount"`
	Ledger  uint64 `json:"chaincode"`
	OK      bool   `json:"ok"`
}

type auditView struct {
	Totals        index.Totals      `json:"totals"`
	LedgerHeight  uint64            `json:"ledger_height"`
	InSync        bool              `json:"in_sync"` // every block of the ledger is indexed
	LedgerError   string            `json:"ledger_error,omitempty"`
	BrokenBlocks  int64             `json:"broken_blocks"`
	Recount       ballot.Results    `json:"recount"`
	Chaincode     *ballot.Results   `json:"chaincode,omitempty"`
	Rows          []auditRow        `json:"rows"`
	Rejected      map[string]int64  `json:"rejected_by_reason"`   // the recount's rejections by reason (ballot.Reject*)
	Roll          index.Roll        `json:"roll"`                 // the roll the blocks wrote, and its seal
	Orderers      index.Orderers    `json:"orderers"`             // whose signatures every block is checked for
	LogAnchors    index.LogAnchors  `json:"intake_log"`           // the intake log's keys and anchored heads the blocks wrote
	TrustAnchor   trustAnchor       `json:"trust_anchor"`         // block 0, and the genesis block it is pinned to
	Policies      map[string]string `json:"endorsement_policies"` // each chaincode's endorsement policy, from its committed definition
	LedgerBatches int64             `json:"chaincode_batches"`
	Match         bool              `json:"match"` // every count and the batch count agree
	Issues        []index.Issue     `json:"issues"`
	Pager         Pager             `json:"issues_pager"`
}

// trustAnchor is the block every signature check starts from: the
// ledger's block 0 as indexed and, if the explorer was given one, the
// genesis block's hash it must equal.
type trustAnchor struct {
	GenesisHash string `json:"genesis_hash,omitempty"` // block 0's header hash, hex; empty until indexed
	Pinned      bool   `json:"pinned"`                 // block 0 is checked against PinnedHash
	PinnedHash  string `json:"pinned_hash,omitempty"`  // the genesis block's hash as published (--genesis-block, --genesis-hash)
}

// trustAnchor returns block 0's hash and the pin it is checked against.
func (s *Server) trustAnchor(ctx context.Context) (trustAnchor, error) {
	a := trustAnchor{Pinned: s.cfg.Genesis != nil, PinnedHash: hex.EncodeToString(s.cfg.Genesis)}
	b, err := s.cfg.Index.Block(ctx, 0)
	switch {
	case errors.Is(err, index.ErrNotFound):
	case err != nil:
		return a, err
	default:
		a.GenesisHash = b.Hash
	}
	return a, nil
}

func (s *Server) audit(r *http.Request) (any, error) {
	ctx := r.Context()
	v := auditView{Rows: []auditRow{}}
	var err error
	if v.Totals, err = s.cfg.Index.Totals(ctx); err != nil {
		return nil, err
	}
	if v.Recount, err = s.cfg.Index.Recount(ctx); err != nil {
		return nil, err
	}
	if v.BrokenBlocks, err = s.cfg.Index.BrokenBlocks(ctx); err != nil {
		return nil, err
	}
	if v.Rejected, err = s.cfg.Index.RejectedByReason(ctx); err != nil {
		return nil, err
	}
	if v.Roll, err = s.cfg.Index.Roll(ctx); err != nil {
		return nil, err
	}
	if v.Orderers, err = s.cfg.Index.Orderers(ctx); err != nil {
		return nil, err
	}
	if v.LogAnchors, err = s.cfg.Index.LogAnchors(ctx); err != nil {
		return nil, err
	}
	if v.TrustAnchor, err = s.trustAnchor(ctx); err != nil {
		return nil, err
	}
	if v.Policies, err = s.cfg.Index.EndorsementPolicies(ctx); err != nil {
		return nil, err
	}
	if v.LedgerHeight, v.LedgerError, err = s.ledgerHeight(ctx); err != nil {
		return nil, err
	}
	v.InSync = v.LedgerError == "" && v.LedgerHeight == v.Totals.Blocks
	if v.LedgerError == "" {
		lctx, cancel := context.WithTimeout(ctx, s.cfg.LedgerTimeout)
		res, err := s.cfg.Ledger.Results(lctx)
		cancel()
		if clientGone(ctx, err) {
			return nil, err
		}
		if err != nil {
			s.cfg.Log.Warn("chaincode results", "error", err)
			v.LedgerError = "the chaincode's results cannot be read"
		} else {
			v.Chaincode = &res
			v.Rows, v.Match = compare(v.Recount, res)
			for _, st := range res.States {
				v.LedgerBatches += int64(st.Batches)
			}
			v.Match = v.Match && v.LedgerBatches == v.Totals.Batches
		}
	}
	p, off, err := s.pager(r, v.Totals.Issues)
	if err != nil {
		return nil, err
	}
	v.Pager = p
	v.Issues, err = s.cfg.Index.Issues(ctx, off, p.Size)
	return v, err
}

// compare lines up every count of the recount and the chaincode's results:
// national and per state, every contest's choices either knows, plus
// counted and rejected totals.
func compare(recount, chain ballot.Results) ([]auditRow, bool) {
	var rows []auditRow
	ok := true
	addContest := func(state, contest, choice string, a, b uint64) {
		rows = append(rows, auditRow{State: state, Contest: contest, Choice: choice, Recount: a, Ledger: b, OK: a == b})
		ok = ok && a == b
	}
	add := func(state, total string, a, b uint64) { addContest(state, "", total, a, b) }
	tallies := func(state string, a, b ballot.Tally) {
		for _, contest := range sortedKeys(a, b) {
			for _, choice := range sortedKeys(a[contest], b[contest]) {
				addContest(state, contest, choice, a[contest][choice], b[contest][choice])
			}
		}
	}
	tallies("", recount.National, chain.National)
	add("", "(counted)", recount.Counted, chain.Counted)
	add("", "(rejected)", recount.Rejected, chain.Rejected)
	states := map[string]bool{}
	for st := range recount.States {
		states[st] = true
	}
	for st := range chain.States {
		states[st] = true
	}
	for _, st := range sortedKeys(states) {
		a, b := recount.States[st], chain.States[st]
		tallies(st, a.Tallies, b.Tallies)
		add(st, "(batches)", uint64(a.Batches), uint64(b.Batches))
		add(st, "(rejected)", a.Rejected, b.Rejected)
	}
	return rows, ok
}

// sortedKeys returns the keys of the maps, sorted, each once.
func sortedKeys[V any](maps ...map[string]V) []string {
	var keys []string
	for _, m := range maps {
		for k := range m {
			if !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
	}
	slices.Sort(keys)
	return keys
}

type searchView struct {
	Query string `json:"query"`
}

// search finds what q names: a block number, a transaction id, a vote id
// or a batch ("CA/3", "CA 3" or "CA#3"), and redirects to its page.
func (s *Server) search(r *http.Request) (any, error) {
	ctx := r.Context()
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	v := searchView{Query: q}
	if q == "" {
		return v, fmt.Errorf("%w: type a block number, transaction id, batch (STATE/SEQ) or vote id", errBadRequest)
	}
	if n, err := parseIndexed("block number", q); err == nil {
		if _, err := s.cfg.Index.Block(ctx, n); err == nil {
			return redirect{URL: fmt.Sprintf("/blocks/%d", n)}, nil
		}
	}
	if state, seq, ok := parseBatchID(q); ok {
		if _, err := s.cfg.Index.Batch(ctx, state, seq); err == nil {
			return redirect{URL: fmt.Sprintf("/batches/%s/%d", state, seq)}, nil
		}
	}
	if _, err := hex.DecodeString(q); err == nil {
		q = strings.ToLower(q)
		if txs, err := s.cfg.Index.Txs(ctx, q); err == nil && len(txs) > 0 {
			return redirect{URL: "/txs/" + url.PathEscape(q)}, nil
		}
		if _, err := s.cfg.Index.Vote(ctx, q); err == nil {
			return redirect{URL: "/verify?vote_id=" + url.QueryEscape(q)}, nil
		}
	}
	return v, fmt.Errorf("%w: nothing in the index matches %q", errNotFound, q)
}

// parseBatchID parses "STATE/SEQ", "STATE SEQ" or "STATE#SEQ".
func parseBatchID(q string) (string, uint64, bool) {
	i := strings.LastIndexAny(q, "/ #")
	if i <= 0 {
		return "", 0, false
	}
	seq, err := parseIndexed("batch seq", q[i+1:])
	state := strings.ToUpper(strings.TrimSpace(q[:i]))
	return state, seq, err == nil && ballot.ValidState(state)
}

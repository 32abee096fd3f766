package logmonitor

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"

	"github.com/votechain/votechain/ballot"
)

// Gateway reads a log through a gateway's API
// (GET /api/v1/log/{state}/entries): what an outside monitor sees.
type Gateway struct {
	Base   string       // e.g. http://127.0.0.1:27380
	Client *http.Client // nil: http.DefaultClient
	// Ask, if set, runs each request: send makes it and reads its whole
	// answer, within the context it is given; Ask returns send's error or
	// its own (a time limit and the errors worded for a command's flags,
	// as cli.AskGateway does). nil: each request runs within the caller's
	// context alone.
	Ask func(ctx context.Context, send func(context.Context) error) error
}

// Entries implements Log. It asks for the entries as frames
// (ballot.EntryFramesType) and reads the JSON answer of a gateway that
// does not frame them.
func (g Gateway) Entries(ctx context.Context, state string, start, end uint64) ([][]byte, error) {
	q := url.Values{"start": {strconv.FormatUint(start, 10)}, "end": {strconv.FormatUint(end, 10)}}
	path := "/api/v1/log/" + url.PathEscape(state) + "/entries?" + q.Encode()
	body, kind, err := g.fetch(ctx, path, ballot.EntryFramesType+", application/json")
	if err != nil {
		return nil, err
	}
	if kind == ballot.EntryFramesType {
		entries, err := ballot.SplitEntryFrames(body)
		if err != nil {
			return nil, fmt.Errorf("entries %d.. of %s: %w", start, state, err)
		}
		return entries, nil
	}
	var out struct {
		Entries []string `json:"entries"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("entries %d.. of %s: %w", start, state, err)
	}
	entries := make([][]byte, len(out.Entries))
	for i, e := range out.Entries {
		b, err := hex.DecodeString(e)
		if err != nil {
			return nil, fmt.Errorf("entry %d of %s is not hex: %w", start+uint64(i), state, err)
		}
		entries[i] = b
	}
	return entries, nil
}

// get reads path's JSON answer into out.
func (g Gateway) get(ctx context.Context, path string, out any) error {
	body, _, err := g.fetch(ctx, path, "application/json")
	if err != nil {
		return err
	}
	return json.Unmarshal(body, out)
}

// fetch GETs path with the Accept header accept (through Ask, if set) and
// returns the answer's body and media type; an answer other than 200 is an
// error.
func (g Gateway) fetch(ctx context.Context, path, accept string) ([]byte, string, error) {
	var body []byte
	var kind string
	send := func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.Base+path, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Accept", accept)
		c := g.Client
		if c == nil {
			c = http.DefaultClient
		}
		resp, err := c.Do(req)
		if err != nil {
			return fmt.Errorf("gateway: %w", err)
		}
		defer resp.Body.Close()
		if body, err = io.ReadAll(io.LimitReader(resp.Body, 16<<20)); err != nil {
			return fmt.Errorf("gateway: %w", err)
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("gateway answered %s to %s: %s", resp.Status, path, body)
		}
		kind, _, _ = mime.ParseMediaType(resp.Header.Get("Content-Type"))
		return nil
	}
	var err error
	if g.Ask != nil {
		err = g.Ask(ctx, send)
	} else {
		err = send(ctx)
	}
	if err != nil {
		return nil, "", err
	}
	return body, kind, nil
}

// Head is the gateway's latest signed tree head of state's log
// (GET /api/v1/log/{state}/head), as it sent it: not verified.
func (g Gateway) Head(ctx context.Context, state string) (ballot.TreeHead, error) {
	var h ballot.TreeHead
	err := g.get(ctx, "/api/v1/log/"+url.PathEscape(state)+"/head", &h)
	return h, err
}

// Consistency implements Proofs: GET /api/v1/log/{state}/consistency.
func (g Gateway) Consistency(ctx context.Context, state string, first, second uint64) ([][32]byte, error) {
	q := url.Values{"first": {strconv.FormatUint(first, 10)}, "second": {strconv.FormatUint(second, 10)}}
	var out struct {
		Proof []string `json:"proof"`
	}
	if err := g.get(ctx, "/api/v1/log/"+url.PathEscape(state)+"/consistency?"+q.Encode(), &out); err != nil {
		return nil, err
	}
	proof := make([][32]byte, len(out.Proof))
	for i, h := range out.Proof {
		p, err := ballot.ParseHash(h)
		if err != nil {
			return nil, fmt.Errorf("consistency proof %s %d..%d, hash %d: %w", state, first, second, i, err)
		}
		proof[i] = p
	}
	return proof, nil
}

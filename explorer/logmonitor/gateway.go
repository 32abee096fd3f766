package logmonitor

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/votechain/votechain/ballot"
)

// Gateway reads a log through a gateway's API
// (GET /api/v1/log/{state}/entries): what an outside monitor sees.
type Gateway struct {
	Base   string // e.g. http://127.0.0.1:27380
	Client *http.Client
}

// Entries implements Log.
func (g Gateway) Entries(ctx context.Context, state string, start, end uint64) ([][]byte, error) {
	q := url.Values{"start": {strconv.FormatUint(start, 10)}, "end": {strconv.FormatUint(end, 10)}}
	var out struct {
		Entries []string `json:"entries"`
	}
	if err := g.get(ctx, "/api/v1/log/"+url.PathEscape(state)+"/entries?"+q.Encode(), &out); err != nil {
		return nil, err
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

func (g Gateway) get(ctx context.Context, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.Base+path, nil)
	if err != nil {
		return err
	}
	c := g.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("gateway answered %s to %s: %s", resp.Status, path, body)
	}
	return json.Unmarshal(body, out)
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

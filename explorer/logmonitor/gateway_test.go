package logmonitor

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/votechain/votechain/ballot"
)

// entriesServer serves GET /api/v1/log/CA/entries from entries as the
// gateway does: as frames when the Accept header names them first (unless
// jsonOnly: a gateway from before frames), else as JSON with hex entries.
// It records the Accept header of the last request.
type entriesServer struct {
	entries  [][]byte
	jsonOnly bool
	accept   string
}

func (s *entriesServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.accept = r.Header.Get("Accept")
	if r.URL.Path != "/api/v1/log/CA/entries" {
		http.Error(w, `{"error":"unknown_state"}`, http.StatusNotFound)
		return
	}
	start, _ := strconv.Atoi(r.URL.Query().Get("start"))
	end, _ := strconv.Atoi(r.URL.Query().Get("end"))
	page := s.entries[min(start, len(s.entries)):min(end, len(s.entries))]
	if !s.jsonOnly && strings.HasPrefix(s.accept, ballot.EntryFramesType) {
		body, _ := ballot.AppendEntryFrames(nil, page)
		w.Header().Set("Content-Type", ballot.EntryFramesType)
		w.Write(body)
		return
	}
	out := struct {
		Start   int      `json:"start"`
		Entries []string `json:"entries"`
	}{Start: start, Entries: make([]string, len(page))}
	for i, e := range page {
		out.Entries[i] = hex.EncodeToString(e)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode(out)
}

// benchEntries are n encoded votes of the bench's shape.
func benchEntries(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		id, _ := ballot.NewVoteID()
		v := ballot.Vote{ID: id, State: "CA", Contest: "president", Nullifier: ballot.HashHex(ballot.NullifierOf([32]byte{byte(i), byte(i >> 8)}, "president")),
			Choice: "alice", CastAt: time.UnixMilli(1_767_225_600_000).Add(time.Duration(i) * time.Millisecond).UnixMilli()}
		out[i], _ = v.Encode()
	}
	return out
}

// The monitor asks for frames and reads them; from a gateway that only
// answers JSON it reads the same entries.
func TestGatewayEntriesFramedOrJSON(t *testing.T) {
	entries := benchEntries(25)
	for _, jsonOnly := range []bool{false, true} {
		srv := &entriesServer{entries: entries, jsonOnly: jsonOnly}
		ts := httptest.NewServer(srv)
		got, err := Gateway{Base: ts.URL}.Entries(context.Background(), "CA", 5, 20)
		ts.Close()
		if err != nil || len(got) != 15 {
			t.Fatalf("json only %v: %d entries, %v", jsonOnly, len(got), err)
		}
		for i, e := range got {
			if !bytes.Equal(e, entries[5+i]) {
				t.Fatalf("json only %v: entry %d differs", jsonOnly, 5+i)
			}
		}
		if !strings.HasPrefix(srv.accept, ballot.EntryFramesType) {
			t.Fatalf("Accept %q: want frames asked for first", srv.accept)
		}
	}
}

func TestGatewayEntriesErrors(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v1/log/NY/entries" {
			w.Header().Set("Content-Type", ballot.EntryFramesType)
			w.Write([]byte{0, 9, 'c', 'u', 't'}) // a frame cut short
			return
		}
		http.Error(w, `{"error":"unknown_state"}`, http.StatusNotFound)
	}))
	defer ts.Close()
	g := Gateway{Base: ts.URL}
	if _, err := g.Entries(context.Background(), "NY", 0, 1); !errors.Is(err, ballot.ErrBadFrames) {
		t.Fatalf("frames cut short: got %v, want ErrBadFrames", err)
	}
	if _, err := g.Entries(context.Background(), "XX", 0, 1); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("unknown state: got %v, want the gateway's 404", err)
	}
}

// Ask runs each request, Entries' and Consistency's alike: what its send
// reads is the answer, send runs within the context Ask gives it, and an
// error of Ask's own (a time limit it set ended the request) is the call's.
func TestGatewayAsk(t *testing.T) {
	ts := httptest.NewServer(&entriesServer{entries: benchEntries(3)})
	defer ts.Close()
	ctx := context.Background()
	asked := 0
	g := Gateway{Base: ts.URL, Ask: func(ctx context.Context, send func(context.Context) error) error {
		asked++
		return send(ctx)
	}}
	if got, err := g.Entries(ctx, "CA", 0, 3); err != nil || len(got) != 3 || asked != 1 {
		t.Fatalf("%d entries, %v, Ask called %d times; want 3 entries through one call", len(got), err, asked)
	}
	limit := errors.New("the gateway did not answer within the limit")
	var sent []error
	g.Ask = func(ctx context.Context, send func(context.Context) error) error {
		ctx, cancel := context.WithCancel(ctx)
		cancel()
		sent = append(sent, send(ctx))
		return limit
	}
	if _, err := g.Entries(ctx, "CA", 0, 3); err != limit {
		t.Errorf("Entries: %v; want Ask's own error", err)
	}
	if _, err := g.Consistency(ctx, "CA", 1, 3); err != limit {
		t.Errorf("Consistency: %v; want Ask's own error", err)
	}
	if len(sent) != 2 || !errors.Is(sent[0], context.Canceled) || !errors.Is(sent[1], context.Canceled) {
		t.Errorf("send's errors %v; want two requests ended by the context Ask gave them", sent)
	}
}

// BenchmarkGatewayEntries reads a log's entries over loopback HTTP in
// pages of 1,000 (as the monitor does), served as frames or as the JSON
// answer, both sides in this process: what a monitor's read of a vote
// costs the gateway and the explorer together, less the gateway's Redis
// read. ns/op is per entry.
func BenchmarkGatewayEntries(b *testing.B) {
	entries := benchEntries(1000)
	for _, form := range []struct {
		name     string
		jsonOnly bool
	}{{"frames", false}, {"json", true}} {
		b.Run(form.name, func(b *testing.B) {
			ts := httptest.NewServer(&entriesServer{entries: entries, jsonOnly: form.jsonOnly})
			defer ts.Close()
			g := Gateway{Base: ts.URL}
			b.ReportAllocs()
			for done := 0; done < b.N; done += len(entries) {
				got, err := g.Entries(context.Background(), "CA", 0, uint64(len(entries)))
				if err != nil || len(got) != len(entries) {
					b.Fatalf("%d entries, %v", len(got), err)
				}
			}
		})
	}
}

// Head reads the gateway's head of the state as sent (GET
// /api/v1/log/{state}/head), and its refusal as an error.
func TestGatewayHead(t *testing.T) {
	want := ballot.TreeHead{Election: "e", State: "CA", Size: 4, Root: strings.Repeat("ab", 32), Timestamp: 9, KeyID: "k", Signature: "c2ln"}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/log/CA/head" {
			http.Error(w, `{"error":"no_head"}`, http.StatusNotFound)
			return
		}
		json.NewEncoder(w).Encode(want)
	}))
	defer ts.Close()
	g := Gateway{Base: ts.URL}
	if got, err := g.Head(context.Background(), "CA"); err != nil || got != want {
		t.Fatalf("head %+v, %v; want %+v", got, err, want)
	}
	if _, err := g.Head(context.Background(), "NY"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("no head: got %v, want the gateway's 404", err)
	}
}

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

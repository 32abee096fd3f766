package loadgen

import (
	"encoding/binary"
	"encoding/hex"
	"testing"
	"time"
)

// BenchmarkPerRequest is the load generator's own work per request, around
// the HTTP exchange: the next attempt's body, and the recording of a 202
// answer (as the gateway words it, each with a vote id of its own).
func BenchmarkPerRequest(b *testing.B) {
	r := testRoll(map[string]int{"CA": 1 << 20}, "CA")
	g, err := NewGenerator(r, referendum, Mix{Duplicate: 0.02, Ineligible: 0.01}, 1)
	if err != nil {
		b.Fatal(err)
	}
	src := g.Votes()
	rc := NewRecorder(time.Now())
	body := []byte(`{"vote_id":"00112233445566778899aabbccddeeff","contest":"L2025-001","status":"pending","receipt_url":"/api/v1/votes/00112233445566778899aabbccddeeff","log_index":12,"acceptance_url":"/api/v1/votes/00112233445566778899aabbccddeeff/acceptance?state=CA&index=12"}`)
	b.ReportAllocs()
	buf := make([]byte, 0, 256)
	id := body[len(`{"vote_id":"`):][:32]
	var n uint64
	var raw [8]byte
	for b.Loop() {
		req, contest, err := src(buf[:0])
		if err != nil {
			b.Fatal(err)
		}
		buf = req
		n++
		binary.BigEndian.PutUint64(raw[:], n)
		hex.Encode(id, raw[:]) // the id's first 16 hex digits
		rc.record(&answer{code: 202, sent: time.Now(), contest: contest, body: body})
	}
}

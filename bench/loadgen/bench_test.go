package loadgen

import (
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// BenchmarkPerRequest is the load generator's own work per request, around
// vegeta's: the next attempt's body and target, and the recording of a 202
// answer (as the gateway words it).
func BenchmarkPerRequest(b *testing.B) {
	r := testRoll(map[string]int{"CA": 1 << 20}, "CA")
	g, err := NewGenerator(r, referendum, Mix{Duplicate: 0.02, Ineligible: 0.01}, 1)
	if err != nil {
		b.Fatal(err)
	}
	tr := g.Targeter("http://127.0.0.1:1/api/v1/vote")
	rc := NewRecorder(time.Now())
	body := []byte(`{"vote_id":"00112233445566778899aabbccddeeff","contest":"L2025-001","status":"pending","receipt_url":"/api/v1/votes/00112233445566778899aabbccddeeff","log_index":12,"acceptance_url":"/api/v1/votes/00112233445566778899aabbccddeeff/acceptance?state=CA&index=12"}`)
	b.ReportAllocs()
	for b.Loop() {
		var t vegeta.Target
		if err := tr(&t); err != nil {
			b.Fatal(err)
		}
		rc.record(&vegeta.Result{Code: 202, Timestamp: time.Now(), URL: t.URL, Body: body})
	}
}

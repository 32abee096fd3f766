package httpapi

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gin-gonic/gin"
)

// benchParallelism is concurrent requests per GOMAXPROCS: enough in flight
// for the intake to batch, as under a surge.
const benchParallelism = 64

// BenchmarkVoteIntake measures votes accepted per second through the whole
// handler (decode, election checks, HMAC, Lua dedup, XADD, fsync'ed AOF on a
// real redis-server), against a bare gin handler answering 202 in the same
// run, so the ratio is the intake's cost. Every request is a distinct
// eligible voter and must be accepted.
func BenchmarkVoteIntake(b *testing.B) {
	b.Run("bare-gin-202", func(b *testing.B) {
		g := gin.New()
		g.POST("/api/v1/vote", func(c *gin.Context) {
			c.JSON(http.StatusAccepted, voteAccepted{VoteID: "0", Status: "pending", ReceiptURL: "/api/v1/votes/0"})
		})
		runVotes(b, g, func(int) {})
	})
	b.Run("redis-intake", func(b *testing.B) {
		f := newFixture(b, fixtureOpts{cfg: Config{MaxQueueDepth: -1}})
		runVotes(b, f.srv.Handler(), func(n int) { f.enrollMany("CA", "c", n, benchVoter) })
	})
}

// runVotes posts b.N distinct votes in parallel and reports votes/s.
func runVotes(b *testing.B, h http.Handler, prepare func(n int)) {
	prepare(b.N)
	var next atomic.Int64
	b.SetParallelism(benchParallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(next.Add(1) - 1)
			req := httptest.NewRequest(http.MethodPost, "/api/v1/vote", strings.NewReader(voteBody(benchVoter(i), "c", "CA", "alice")))
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusAccepted {
				b.Errorf("vote %d: %d %s", i, rec.Code, rec.Body)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "votes/s")
}

func benchVoter(i int) string { return fmt.Sprintf("bench-%08d", i) }

package httpapi

import (
	"cmp"
	"log/slog"
	"time"

	"github.com/gin-gonic/gin"
)

// accessLog records every request's duration by route and status, logs
// every request at debug level and 5xx answers at warn, at most the first
// of each kind (route, status and code) a second, the others of the second
// counted on a warn line of their own (warnSampler). It logs the route's
// pattern, never the path: a receipt's path names its vote id, whose
// choice is public, and beside the client's address the line would tie a
// voter to a choice.
func (s *Server) accessLog(c *gin.Context) {
	start := time.Since(s.epoch)
	c.Next()
	took := time.Since(s.epoch) - start
	status := c.Writer.Status()
	s.m.request(c.Request.Method, c.FullPath(), status).Observe(took.Seconds())
	level := slog.LevelDebug
	if status >= 500 {
		k := warnKind{level: slog.LevelWarn, msg: "http", route: cmp.Or(c.FullPath(), "unmatched"), status: status, code: c.GetString(ctxErrorCode)}
		level = s.sampledLevel(c.Request.Context(), k, "", nil)
	}
	logRequest(s.deps.Log, level, c, took)
}

// logRequest logs the request c answered, which took took, on log at
// level as accessLog says: its route's pattern, never its path.
func logRequest(log *slog.Logger, level slog.Level, c *gin.Context, took time.Duration) {
	ctx := c.Request.Context()
	if !log.Enabled(ctx, level) {
		return
	}
	log.Log(ctx, level, "http",
		"request_id", requestIDOf(c),
		"method", c.Request.Method,
		"route", cmp.Or(c.FullPath(), "unmatched"),
		"status", c.Writer.Status(),
		"code", c.GetString(ctxErrorCode),
		"client", c.ClientIP(),
		"duration", took)
}

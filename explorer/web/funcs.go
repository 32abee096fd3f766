package web

import (
	"encoding/json"
	"html/template"
	"strconv"
	"time"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/explorer/index"
)

// funcs are the templates' helpers.
var funcs = template.FuncMap{
	// short abbreviates a hash or id for tables: the first 12 characters.
	"short": func(s string) string {
		if len(s) <= 14 {
			return s
		}
		return s[:12] + "…"
	},
	// ts formats a time in UTC to the millisecond.
	"ts": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05.000Z")
	},
	// mark renders a check result.
	"mark": func(ok bool) template.HTML {
		if ok {
			return `<span class="ok" title="verified">✓</span>`
		}
		return `<span class="bad" title="mismatch">✗</span>`
	},
	// json encodes v for a data attribute (html/template escapes it).
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
	// slice1 makes a one-row list for the list partials.
	"slice1": func(b index.Batch) []index.Batch { return []index.Batch{b} },
	"msTime": func(ms int64) time.Time { return time.UnixMilli(ms) },
	"inc":    func(n uint64) uint64 { return n + 1 },
	"dec":    func(n uint64) uint64 { return n - 1 },
	// kindLabel names a contest kind for people ("race", "question"); a
	// contest missing from the election record has none.
	"kindLabel": func(kind string) string {
		if kind == "" {
			return "contest"
		}
		return kind
	},
	// choiceLabel heads a contest's choice column: candidates or answers.
	"choiceLabel": func(kind string) string {
		if kind == ballot.ContestQuestion {
			return "Answer"
		}
		if kind == ballot.ContestRace {
			return "Candidate"
		}
		return "Choice"
	},
	// pct is n as a percentage of total, to one decimal ("—" for no total).
	"pct": func(n, total uint64) string {
		if total == 0 {
			return "—"
		}
		return strconv.FormatFloat(100*float64(n)/float64(total), 'f', 1, 64) + "%"
	},
	// clock is the time of day in UTC, for chart axes.
	"clock": func(t time.Time) string { return t.UTC().Format("15:04:05") },
}

package ballot

import (
	"encoding/json"
	"math"
)

// A batch's JSON is decoded on every endorser and by the explorer for every
// vote committed, and encoding/json spent most of that time reflecting over
// the columns. MarshalJSON writes one fixed form (json.Marshal of
// batchJSON: the fields in order, no white space, no escapes in the
// identifiers), which scanBatch reads by hand. It accepts nothing else: any
// other form, valid or not, is left to encoding/json (DecodeStrict), which
// decides as before. For every input scanBatch accepts, DecodeStrict would
// give the same batchJSON (TestScanBatchAgreesWithEncodingJSON,
// FuzzScanBatch), so the rules do not depend on which of the two read it.

// jsonScan reads the fixed form from data, position by position; ok turns
// false at the first byte out of the form and stays false.
type jsonScan struct {
	data []byte
	s    string // data as one string: every decoded string is a substring of it
	pos  int
	ok   bool
}

func (j *jsonScan) lit(want string) {
	if j.ok && len(j.data)-j.pos >= len(want) && string(j.data[j.pos:j.pos+len(want)]) == want {
		j.pos += len(want)
		return
	}
	j.ok = false
}

// peek reports whether the next byte is c (without consuming it).
func (j *jsonScan) peek(c byte) bool { return j.ok && j.pos < len(j.data) && j.data[j.pos] == c }

// str reads a string of printable ASCII without quotes or backslashes (the
// bytes encoding/json gives back unchanged).
func (j *jsonScan) str() string {
	j.lit(`"`)
	start := j.pos
	for j.ok && j.pos < len(j.data) {
		switch c := j.data[j.pos]; {
		case c == '"':
			j.pos++
			return j.s[start : j.pos-1]
		case c < 0x20 || c > 0x7e || c == '\\':
			j.ok = false
		default:
			j.pos++
		}
	}
	j.ok = false
	return ""
}

// uint reads an unsigned integer without leading zeros that fits in max.
func (j *jsonScan) uint(max uint64) uint64 {
	start, n := j.pos, uint64(0)
	for j.ok && j.pos < len(j.data) && j.data[j.pos] >= '0' && j.data[j.pos] <= '9' {
		d := uint64(j.data[j.pos] - '0')
		if n > (max-d)/10 {
			j.ok = false
			return 0
		}
		n = 10*n + d
		j.pos++
	}
	if j.pos == start || (j.data[start] == '0' && j.pos-start > 1) {
		j.ok = false
	}
	return n
}

func (j *jsonScan) int64() int64 {
	if j.peek('-') {
		j.pos++
		n := j.uint(math.MaxInt64 + 1)
		return int64(-n) // -(MaxInt64+1) wraps to MinInt64
	}
	return int64(j.uint(math.MaxInt64))
}

// array reads a JSON array, calling elem for each element.
func (j *jsonScan) array(elem func()) {
	j.lit("[")
	if j.peek(']') {
		j.pos++
		return
	}
	for j.ok {
		elem()
		if j.peek(',') {
			j.pos++
			continue
		}
		j.lit("]")
		return
	}
}

// object reads a JSON object of distinct keys, calling value after each key.
func (j *jsonScan) object(seen func(key string) bool, value func(key string)) {
	j.lit("{")
	if j.peek('}') {
		j.pos++
		return
	}
	for j.ok {
		k := j.str()
		j.lit(":")
		if !j.ok || seen(k) {
			j.ok = false
			return
		}
		value(k)
		if j.peek(',') {
			j.pos++
			continue
		}
		j.lit("}")
		return
	}
}

// strings reads an array of strings.
func (j *jsonScan) strings(hint int) []string {
	out := make([]string, 0, hint)
	j.array(func() { out = append(out, j.str()) })
	return out
}

// batch reads one batch's JSON in MarshalJSON's form into w.
func (j *jsonScan) batch(w *batchJSON) {
	j.lit(`{"state":`)
	w.State = j.str()
	j.lit(`,"seq":`)
	w.Seq = j.uint(math.MaxUint64)
	j.lit(`,"votes":{"id":`)
	w.Votes.ID = j.strings(0)
	n := len(w.Votes.ID)
	j.lit(`,"contest":`)
	w.Votes.Contest = j.strings(n)
	j.lit(`,"nullifier":`)
	w.Votes.Nullifier = j.strings(n)
	j.lit(`,"choice":`)
	w.Votes.Choice = j.strings(n)
	j.lit(`,"cast_at":`)
	w.Votes.CastAt = make([]int64, 0, n)
	j.array(func() { w.Votes.CastAt = append(w.Votes.CastAt, j.int64()) })
	j.lit(`},"root":`)
	w.Root = j.str()
	j.lit(`,"tallies":`)
	if j.peek('n') {
		j.lit("null")
	} else {
		w.Tallies = Tally{}
		j.object(func(k string) bool { _, dup := w.Tallies[k]; return dup }, func(contest string) {
			c := Counts{}
			j.object(func(k string) bool { _, dup := c[k]; return dup }, func(choice string) { c[choice] = j.uint(math.MaxUint64) })
			w.Tallies[contest] = c
		})
	}
	j.lit("}")
}

// scanBatch decodes data if it is one batch in MarshalJSON's form.
func scanBatch(data []byte) (batchJSON, bool) {
	j := jsonScan{data: data, s: string(data), ok: true}
	var w batchJSON
	j.batch(&w)
	return w, j.ok && j.pos == len(data)
}

// scanBatches decodes data if it is a JSON array of batches in
// MarshalJSON's form, with no white space: each batch and its JSON.
func scanBatches(data []byte) ([]batchJSON, []json.RawMessage, bool) {
	j := jsonScan{data: data, s: string(data), ok: true}
	var ws []batchJSON
	var raws []json.RawMessage
	j.array(func() {
		start := j.pos
		var w batchJSON
		j.batch(&w)
		ws, raws = append(ws, w), append(raws, data[start:j.pos:j.pos])
	})
	return ws, raws, j.ok && j.pos == len(data)
}

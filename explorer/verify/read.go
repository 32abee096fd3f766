package verify

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Decoded is one JSON value read from a file: a T, or why it is not one.
type Decoded[T any] struct {
	V   T
	At  string // where it was read: "NAME: receipt N"
	Err error  // why the value, valid JSON, is not a T; V is zero then
}

// ReadJSON reads JSON objects of type T from r, a stream of one object
// or many, name naming r in errors and in each value's At ("NAME: what
// N"); what names the objects. Unknown fields are refused when strict.
// A stream that is not JSON, or holds no value, is an error; a value that
// is not a T is returned with its Err.
func ReadJSON[T any](r io.Reader, name, what string, strict bool) ([]Decoded[T], error) {
	var out []Decoded[T]
	dec := json.NewDecoder(bufio.NewReader(r))
	for n := 1; ; n++ {
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if errors.Is(err, io.EOF) && n == 1 {
			return nil, fmt.Errorf("%s holds no %s (saved from a download that failed?): a file holds one JSON %s, or one per line", name, what, what)
		}
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %s %d is not valid JSON: %w", name, what, n, err)
		}
		d := Decoded[T]{At: fmt.Sprintf("%s: %s %d", name, what, n)}
		d.V, d.Err = decodeObject[T](raw, what, strict)
		out = append(out, d)
	}
}

// decodeObject decodes one JSON value into a T, or says why it is not one:
// not an object, an error answer ({"error":{"code","message"}}, what a
// failed request saves), or fields that do not fit.
func decodeObject[T any](raw json.RawMessage, what string, strict bool) (T, error) {
	var v T
	raw = bytes.TrimSpace(raw)
	if raw[0] == '[' {
		return v, fmt.Errorf("it is a JSON array; a file holds one %s object, or one per line (jq -c '.[]' splits an array)", what)
	}
	if raw[0] != '{' {
		return v, fmt.Errorf("it is the JSON value %.40s, not an object", raw)
	}
	var answer struct {
		Error *struct{ Code, Message string } `json:"error"`
	}
	if json.Unmarshal(raw, &answer) == nil && answer.Error != nil {
		return v, fmt.Errorf("it is an error answer (%s: %s), saved from a request that failed", answer.Error.Code, answer.Error.Message)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(&v); err != nil {
		return v, fmt.Errorf("its fields do not fit: %w", err)
	}
	return v, nil
}

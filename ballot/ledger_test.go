package ballot

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestNotFound(t *testing.T) {
	err := NotFound("batch CA/7 is not committed")
	if !errors.Is(err, ErrNotFound) || !errors.Is(fmt.Errorf("wrapped: %w", err), ErrNotFound) {
		t.Errorf("%v does not wrap ErrNotFound", err)
	}
	if msg := err.Error(); !strings.HasPrefix(msg, NotFoundMark) || !strings.Contains(msg, "batch CA/7 is not committed") || !IsNotFound("peer says: "+msg) {
		t.Errorf("message %q", msg)
	}
	if IsNotFound("batch CA/7 is not committed") {
		t.Error("a message without the mark reads as not-found")
	}
}

package a

import (
	"testing"

	"example.com/mod/d"
)

// A test file's imports are not linked into the package.
func TestD(t *testing.T) { _ = d.D }

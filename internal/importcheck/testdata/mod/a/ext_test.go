package a_test

import (
	"testing"

	"example.com/mod/e"
)

// An external test package's imports are not linked into the package.
func TestE(t *testing.T) { _ = e.E }

// Package clean links b (and through it c) only.
package clean

import "example.com/mod/b"

// Clean uses b.
func Clean() int { return b.B() }

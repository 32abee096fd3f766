// Package b links c.
package b

import "example.com/mod/c"

// B uses c.
func B() int { return c.C }

// Package a links c through b, and gw/sub directly.
package a

import (
	"fmt"

	"example.com/mod/b"
	"example.com/mod/gw/sub"
)

// A uses its imports.
func A() string { return fmt.Sprint(b.B(), sub.Sub()) }

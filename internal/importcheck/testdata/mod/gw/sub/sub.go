// Package sub is below gw.
package sub

// Sub is a value.
func Sub() int { return 3 }

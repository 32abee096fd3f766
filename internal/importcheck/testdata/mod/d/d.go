// Package d is imported by a's test only.
package d

// D is a value.
const D = 2

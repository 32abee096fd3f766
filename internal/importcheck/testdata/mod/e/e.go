// Package e is imported by a's external test package only.
package e

// E is a value.
const E = 5

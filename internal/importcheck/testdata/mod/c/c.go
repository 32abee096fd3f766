// Package c imports nothing.
package c

// C is a value.
const C = 1

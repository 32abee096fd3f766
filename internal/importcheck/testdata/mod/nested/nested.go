// Package nested is of another module than its folder's parent.
package nested

// N is a value.
const N = 6

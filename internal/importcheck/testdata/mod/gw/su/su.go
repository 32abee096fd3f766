// Package su's path is a prefix of gw/sub's, which is not below it.
package su

// Su is a value.
const Su = 4

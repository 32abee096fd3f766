// Package f imports nested, a package of another module below this one's.
package f

import "example.com/mod/nested"

// F uses nested.
const F = nested.N

// Package nested is of another module than its folder's parent, though
// its path starts with the parent's; it imports a package of the parent.
package nested

import "example.com/mod/c"

// N is a value.
const N = 6 + c.C

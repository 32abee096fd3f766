package network

// portSpan is how far above its base a port plan reaches: every port of
// the plan lies below Base+portSpan (Validate keeps that below 65536).
const portSpan = 400

// Contains reports whether port lies in the plan's range, from the base
// to below base+400, where every port of the plan lies.
func (p Ports) Contains(port int) bool { return port >= p.Base && port < p.Base+portSpan }

// Last is the plan's last port, base+399: Contains accepts Base to Last.
func (p Ports) Last() int { return p.Base + portSpan - 1 }

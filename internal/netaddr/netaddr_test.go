package netaddr

import (
	"strings"
	"testing"
)

// TestCheck: host:port with a numeric port 0..65535 passes, the host
// unresolved; no port, a port out of range or not a number is refused,
// saying what to give.
func TestCheck(t *testing.T) {
	for _, ok := range []string{"127.0.0.1:27380", ":0", "localhost:65535", "[::1]:6379", "no.such.host.invalid:80"} {
		if err := Check(ok); err != nil {
			t.Errorf("Check(%q): %v; want nil", ok, err)
		}
	}
	for addr, says := range map[string]string{
		"localhost":          "want host:port (missing port in address)",
		"127.0.0.1:99999":    `port "99999": want a number from 0 to 65535`,
		":-1":                `port "-1": want a number from 0 to 65535`,
		"127.0.0.1:http":     `port "http": want a number`,
		"127.0.0.1:":         `port "": want a number`,
		"::1:80":             "want host:port (too many colons in address)",
		"not a url at all":   "want host:port",
		"http://127.0.0.1:1": "want host:port",
	} {
		if err := Check(addr); err == nil || !strings.Contains(err.Error(), says) {
			t.Errorf("Check(%q): %v; want an error saying %s", addr, err, says)
		}
	}
}

package redisserver

import (
	"slices"
	"strings"
	"testing"
)

// TestParseEndpoint: one address is a server, several (or cluster) a
// cluster; an address without a port number, or with one out of range, is
// refused naming it, before any client dials it.
func TestParseEndpoint(t *testing.T) {
	if e, err := ParseEndpoint("127.0.0.1:6379", false); err != nil || e.Cluster || !slices.Equal(e.Addrs, []string{"127.0.0.1:6379"}) {
		t.Errorf("one address: %+v, %v", e, err)
	}
	if e, err := ParseEndpoint(" 127.0.0.1:7000, [::1]:7001 ,", false); err != nil || !e.Cluster || !slices.Equal(e.Addrs, []string{"127.0.0.1:7000", "[::1]:7001"}) {
		t.Errorf("two addresses: %+v, %v", e, err)
	}
	for list, says := range map[string]string{
		"localhost":                      `redis address "localhost": want host:port`,
		"127.0.0.1:99999":                `redis address "127.0.0.1:99999": port "99999": want a number from 0 to 65535`,
		"127.0.0.1:7000,127.0.0.1:redis": `redis address "127.0.0.1:redis": port "redis"`,
		" , ":                            "no redis address given",
	} {
		if _, err := ParseEndpoint(list, false); err == nil || !strings.Contains(err.Error(), says) {
			t.Errorf("ParseEndpoint(%q): %v; want an error saying %s", list, err, says)
		}
	}
}

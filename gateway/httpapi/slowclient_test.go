package httpapi

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestSlowBodiesAreCutOff: over a real socket, a body dribbled to any
// route — the vote route, a path gin only redirects (its trailing-slash
// redirect runs no middleware), an unknown one — is cut off by the server's
// read timeout; and a second request on a connection whose first request
// was answered is served (the timeout is per request, not per connection).
func TestSlowBodiesAreCutOff(t *testing.T) {
	const readTimeout = 300 * time.Millisecond
	f := newFixture(t, fixtureOpts{cfg: Config{ReadTimeout: readTimeout}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := f.srv.HTTPServer("")
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })

	for _, path := range []string{"/api/v1/vote", "/api/v1/vote/", "/api/v1/votes/lookup/", "/nowhere"} {
		t.Run(path, func(t *testing.T) {
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200000\r\n\r\n{", path)
			start := time.Now()
			closed := make(chan error, 1)
			go func() { // the server answers (or not), then closes at its timeout
				buf := make([]byte, 4096)
				for {
					if _, err := c.Read(buf); err != nil {
						closed <- err
						return
					}
				}
			}()
			tick := time.NewTicker(50 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-closed:
					if el := time.Since(start); el > readTimeout+3*time.Second {
						t.Fatalf("connection closed only after %v", el)
					}
					return
				case <-tick.C:
					c.Write([]byte(" ")) // one byte at a time, forever
					if time.Since(start) > readTimeout+5*time.Second {
						t.Fatalf("a dribbled body to %s held its connection %v", path, time.Since(start))
					}
				}
			}
		})
	}

	t.Run("keep-alive", func(t *testing.T) {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		r := bufio.NewReader(c)
		for i := range 2 {
			fmt.Fprintf(c, "GET /api/v1/results HTTP/1.1\r\nHost: x\r\n\r\n")
			resp, err := http.ReadResponse(r, nil)
			if err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("request %d: %d", i, resp.StatusCode)
			}
			time.Sleep(2 * readTimeout) // longer than a request may take to read
		}
	})
}

package suite

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"time"
)

// bareServer runs `self serve-bytes` as its own process serving file's
// bytes on a free port; stop it with its Process.Kill.
func bareServer(ctx context.Context, self, file, contentType, etag string) (*exec.Cmd, string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.CommandContext(ctx, self, "serve-bytes", "--file", file, "--content-type", contentType, "--etag", etag, "--listen", addr)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("bare handler: %w", err)
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return cmd, "http://" + addr, nil
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	return nil, "", fmt.Errorf("bare handler did not listen on %s", addr)
}

// Package browsertest drives Debian's headless Chromium for the browser
// tests of the web pages (explorer, operator page, voter's page), with a fresh profile and
// no network traffic of its own.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
)

// shortSkip is why New skips its test under -short.
const shortSkip = "drives headless Chromium: skipped under -short (run make test)"

// New starts Chromium for t and returns its context; the browser stops
// when the test ends. Under -short (make test-unit) it skips t, so a
// browser test needs no check of its own; call it before any costly
// set-up. A missing Chromium fails the test: the browser tests are part
// of make test, which installs it.
func New(t *testing.T) context.Context {
	t.Helper()
	if testing.Short() {
		t.Skip(shortSkip)
	}
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium not found: install it with `apt-get install -y chromium` (or `make deps`)")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1000),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first action starts the browser; its context must live as long
	// as the browser (a timeout here would close it).
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// Screenshot writes a full-page PNG of the page in ctx to dir/name.png
// (creating dir), logs its path and returns it.
func Screenshot(t *testing.T, ctx context.Context, dir, name string) string {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG, below: JPEG
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, name+".png")
	if err := os.WriteFile(file, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", file)
	return file
}

// Downloads lets the browser of ctx save downloads, under their suggested
// names, into a fresh directory it returns.
func Downloads(t *testing.T, ctx context.Context) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir}); err != nil {
		t.Fatalf("allow downloads: %v", err)
	}
	return dir
}

// Downloaded waits up to within for exactly one completed file matching
// pattern (a filepath.Match pattern; Chromium writes .crdownload files
// until done) in dir and returns its path and content.
func Downloaded(t *testing.T, dir, pattern string, within time.Duration) (string, []byte) {
	t.Helper()
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if names, _ := filepath.Glob(filepath.Join(dir, pattern)); len(names) == 1 {
			data, err := os.ReadFile(names[0])
			if err != nil {
				t.Fatal(err)
			}
			return names[0], data
		}
	}
	t.Fatalf("no %s downloaded into %s within %v", pattern, dir, within)
	return "", nil
}

// Step does act (a click, a navigation, a form) and then read, and returns
// what read found. When a click navigates, Chromium can replace the
// document between chromedp's query of a node and its use (CDP error
// -32000 "No node with given id found"); such a step is retried once from
// where it stands: the read alone if the page already changed, else act
// and read again. Any other error is returned as it is.
func Step(ctx context.Context, act chromedp.Action[chromedp.Void], read chromedp.Action[string]) (string, error) {
	if err := chromedp.Do(ctx, act); err != nil {
		if !staleNode(err) {
			return "", err
		}
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		text, rerr := chromedp.Run(rctx, read)
		cancel()
		if rerr == nil {
			return text, nil
		}
		if err := chromedp.Do(ctx, act); err != nil {
			return "", err
		}
	}
	text, err := chromedp.Run(ctx, read)
	if staleNode(err) {
		return chromedp.Run(ctx, read)
	}
	return text, err
}

// staleNode reports whether err is Chromium's answer for a node of a
// document that was replaced.
func staleNode(err error) bool {
	return err != nil && strings.Contains(err.Error(), "No node with given id found")
}

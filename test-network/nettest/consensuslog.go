package nettest

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/votechain/votechain/test-network/localnet"
)

// LogMark is where the logs of some of a network's processes ended at one
// moment (a fault's start): what each logged after it is read apart from
// what came before, incrementally (each read takes only the bytes logged
// since the last), with Fabric's terminal colours removed. A log truncated
// or created anew after the mark is read on only from the offset already
// read to: what it holds before that is never read. A LogMark is not safe
// for concurrent use.
type LogMark struct {
	tails map[string]*logTail // by process name
}

// logTail is one log read from the mark on: the lines read so far, the
// offset read to and a last line not yet ended.
type logTail struct {
	path    string
	at      int64 // the mark
	off     int64
	partial []byte
	lines   []string
}

// MarkLogs marks the logs of the processes names of n as they are now.
func MarkLogs(t testing.TB, n *localnet.Network, names ...string) *LogMark {
	t.Helper()
	m := &LogMark{tails: map[string]*logTail{}}
	for _, name := range names {
		path := n.Layout().Log(name)
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		m.tails[name] = &logTail{path: path, at: info.Size(), off: info.Size()}
	}
	return m
}

// Before is what process name logged before the mark, line by line.
func (m *LogMark) Before(t testing.TB, name string) []string {
	t.Helper()
	tl := m.tail(t, name)
	data, err := readRange(tl.path, 0, tl.at)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(stripColour(string(data)), "\n")
}

// After is what process name logged since the mark, its complete lines,
// read from where the last call stopped.
func (m *LogMark) After(t testing.TB, name string) []string {
	t.Helper()
	tl := m.tail(t, name)
	if err := tl.read(); err != nil {
		t.Fatal(err)
	}
	return tl.lines
}

func (m *LogMark) tail(t testing.TB, name string) *logTail {
	t.Helper()
	tl, ok := m.tails[name]
	if !ok {
		t.Fatalf("the log of %s was not marked", name)
	}
	return tl
}

// read appends the complete lines logged since the last read.
func (tl *logTail) read() error {
	f, err := os.Open(tl.path)
	if err != nil {
		return err
	}
	defer f.Close()
	data, err := io.ReadAll(io.NewSectionReader(f, tl.off, 1<<62))
	if err != nil {
		return err
	}
	tl.off += int64(len(data))
	data = append(tl.partial, data...)
	end := bytes.LastIndexByte(data, '\n')
	tl.partial = bytes.Clone(data[end+1:])
	if end >= 0 {
		tl.lines = append(tl.lines, strings.Split(stripColour(string(data[:end])), "\n")...)
	}
	return nil
}

func readRange(path string, from, to int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.NewSectionReader(f, from, max(to-from, 0)))
}

// colour is a terminal colour code, as Fabric writes them into its logs.
var colour = regexp.MustCompile(`\x1b\[[0-9;]*m`)

func stripColour(s string) string { return colour.ReplaceAllString(s, "") }

// startedView is SmartBFT's log message for a view an orderer starts: the
// first view, and each a view change completes. A view change that timed
// out starts none, but the next one's number is one higher.
var startedView = regexp.MustCompile(`Starting view with number (\d+),`)

// HighestView is the highest SmartBFT view any of lines started, and
// whether any did.
func HighestView(lines []string) (view int, ok bool) {
	for _, line := range lines {
		if m := startedView.FindStringSubmatch(line); m != nil {
			v, err := strconv.Atoi(m[1])
			if err == nil && (!ok || v > view) {
				view, ok = v, true
			}
		}
	}
	return view, ok
}

// Views are the SmartBFT view the orderers were in at the mark (the
// highest any of them had started; t fails if none had) and the highest
// any of them started since (the same when none started one).
func (m *LogMark) Views(t testing.TB, orderers []string) (atMark, since int) {
	t.Helper()
	found := false
	for _, name := range orderers {
		if v, ok := HighestView(m.Before(t, name)); ok {
			atMark, found = max(atMark, v), true
		}
	}
	if !found {
		t.Fatalf("none of %v logged a SmartBFT view start before the mark (%q)", orderers, startedView)
	}
	since = atMark
	for _, name := range orderers {
		if v, ok := HighestView(m.After(t, name)); ok {
			since = max(since, v)
		}
	}
	return atMark, since
}

// consensusEvent is what ConsensusEvents keeps of an orderer's consensus
// messages besides warnings and errors: views, roles, leaders, heartbeats,
// complaints, syncs and timeouts.
var consensusEvent = regexp.MustCompile(`(?i)view|role|leader|heartbeat|complain|sync|timeout`)

// maxEventLine is how much of a line ConsensusEvents keeps.
const maxEventLine = 300

// ConsensusEvents picks from an orderer's log lines, limit lines at most,
// those of its consensus (orderer.consensus.*, not .egress, whose failed
// sends to a silent orderer repeat several times a second) that are
// warnings, errors or consensusEvent in their message (not the module,
// function or channel names: the channel is "election"), without the
// stale-message warnings each view change brings ("got message from"). A
// run of lines from one function whose messages differ only in ids and
// hashes (idToken: a forward or complaint per pending request) shows as its
// first line and "… and N more from" the function; messages that differ in
// a number (views, nodes, sequences) are all shown. Lines are cut to
// maxEventLine bytes. When more were picked than limit, the last line kept
// says "… more in the log".
func ConsensusEvents(lines []string, limit int) []string {
	var out []string
	lastFunc, lastMsg, repeats := "", "", 0
	flush := func() {
		if repeats > 0 {
			out = append(out, fmt.Sprintf("… and %d more from %s", repeats, lastFunc))
		}
		repeats = 0
	}
	for _, line := range lines {
		if !strings.Contains(line, "[orderer.consensus.") || strings.Contains(line, ".egress]") || strings.Contains(line, "got message from") {
			continue
		}
		_, rest, _ := strings.Cut(line, "] ")
		fn, msg, _ := strings.Cut(rest, " -> ")
		msg, _, _ = strings.Cut(msg, " channel=")
		if !strings.Contains(line, " WARN ") && !strings.Contains(line, " ERRO ") && !consensusEvent.MatchString(msg) {
			continue
		}
		msg = maskIDs(msg)
		if fn == lastFunc && msg == lastMsg {
			repeats++
			continue
		}
		flush()
		lastFunc, lastMsg = fn, msg
		out = append(out, cut(line, maxEventLine))
	}
	flush()
	if len(out) > limit {
		if limit < 1 {
			return nil
		}
		out = append(out[:limit-1], "… more in the log")
	}
	return out
}

// idToken is a word ConsensusEvents ignores when it compares messages if
// it holds a digit: eight or more letters, digits and the like
// (transaction and request ids, hashes, client ids). Shorter numbers
// (views, nodes, sequences) count.
var idToken = regexp.MustCompile(`[0-9A-Za-z+/=_-]{8,}`)

// maskIDs is msg with each id (idToken) replaced by "…".
func maskIDs(msg string) string {
	return idToken.ReplaceAllStringFunc(msg, func(w string) string {
		if strings.ContainsAny(w, "0123456789") {
			return "…"
		}
		return w
	})
}

// cut is s cut to at most n bytes (at a UTF-8 boundary), "…" marking a cut.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// LogConsensusEvents logs, up to limit lines each, the consensus events
// (ConsensusEvents) the orderers logged since the mark: the reasons for a
// slow failover.
func (m *LogMark) LogConsensusEvents(t testing.TB, orderers []string, limit int) {
	t.Helper()
	for _, name := range orderers {
		for _, line := range ConsensusEvents(m.After(t, name), limit) {
			t.Logf("%s: %s", name, line)
		}
	}
}

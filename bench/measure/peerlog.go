package measure

import (
	"bufio"
	"io"
	"regexp"
	"strconv"
	"time"
)

// PeerBlock is one block's passage through a Fabric peer's committer, as
// the peer logs it at INFO: taken from the gossip buffer (gossip.privdata
// "Received block [N] from buffer"), validated (committer.txvalidator
// "Validated block [N] in T ms": endorsement policies and signatures), then
// committed by the ledger (kvledger "Committed block [N] with K
// transaction(s) in T ms (state_validation=… block_and_pvtdata_commit=…
// state_commit=…)": the MVCC checks, the block store, the state database).
// A time the log does not give (the genesis block is only committed) is
// zero. The durations are as logged, in whole milliseconds.
type PeerBlock struct {
	Number    uint64
	Txs       int
	Received  time.Time
	Validated time.Time
	Committed time.Time
	// Validate is validation's time as logged.
	Validate time.Duration
	// Commit is the ledger's commit in all, and its parts: the MVCC
	// validation of the read sets, the block (and private data) store, and
	// the state database's update.
	Commit, StateValidation, BlockCommit, StateCommit time.Duration
}

// OrdererBlock is one block's consensus on a SmartBFT orderer, as the
// orderer logs it at INFO: its proposal verified ("Processed proposal with
// seq N"; the leader, which cut the block, logs it first, a follower once
// the proposal has reached it) and the decision
// ("Deciding on seq N"), after which the orderer writes the block. In a
// Fabric channel ordered by SmartBFT a decision's sequence is the block's
// number. A proposal made again after a view change keeps the last time
// logged; a time not logged is zero.
type OrdererBlock struct {
	Number   uint64
	Proposed time.Time
	Decided  time.Time
}

// The lines read: a Fabric node's line once its colour codes are removed
// (the time stamp, then whatever follows), and the messages it may carry.
var (
	fabricLogLine = regexp.MustCompile(`^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ \S+) (.*)$`)
	colourCode    = regexp.MustCompile(`\x1b\[[0-9;]*m`)

	peerReceived  = regexp.MustCompile(`Received block \[(\d+)\] from buffer channel=(\S+)`)
	peerValidated = regexp.MustCompile(`\[(\S+)\] Validated block \[(\d+)\] in (\d+)ms`)
	peerCommitted = regexp.MustCompile(`\[(\S+)\] Committed block \[(\d+)\] with (\d+) transaction\(s\) in (\d+)ms \(state_validation=(\d+)ms block_and_pvtdata_commit=(\d+)ms state_commit=(\d+)ms\)`)

	statusCall = regexp.MustCompile(`unary call completed grpc\.service=gateway\.Gateway grpc\.method=CommitStatus `)
	grpcField  = regexp.MustCompile(`grpc\.(peer_address|code|call_duration)=(\S+)`)

	ordererProposed = regexp.MustCompile(`Processed proposal with seq (\d+) channel=(\S+)`)
	ordererDecided  = regexp.MustCompile(`Deciding on seq (\d+) channel=(\S+)`)
)

// fabricLogTime is the layout of a Fabric node's time stamp ("2026-12-03
// 08:06:22.343 UTC"; Parse takes the fraction of a second it does not
// name). A zone abbreviation other than UTC is read as the local zone's if
// it names it, else as UTC.
const fabricLogTime = "2006-01-02 15:04:05 MST"

// scanFabricLog calls line with the time and the rest of each stamped
// line of r, colour codes removed; other lines are skipped.
func scanFabricLog(r io.Reader, line func(at time.Time, rest string)) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 4*1024*1024)
	for sc.Scan() {
		m := fabricLogLine.FindStringSubmatch(colourCode.ReplaceAllString(sc.Text(), ""))
		if m == nil {
			continue
		}
		at, err := time.Parse(fabricLogTime, m[1])
		if err != nil {
			continue
		}
		line(at, m[2])
	}
	return sc.Err()
}

// blockList keeps blocks by number in the order first seen.
type blockList[T any] struct {
	index map[uint64]int
	list  []T
}

// get returns block n's entry, adding one made by fresh when n is new.
func (l *blockList[T]) get(n uint64, fresh func() T) *T {
	if l.index == nil {
		l.index = map[uint64]int{}
	}
	i, ok := l.index[n]
	if !ok {
		i = len(l.list)
		l.index[n] = i
		l.list = append(l.list, fresh())
	}
	return &l.list[i]
}

// StatusWait is one client's wait at a peer's gateway for a
// transaction's commit status, from the peer's INFO log of the call
// ("unary call completed grpc.service=gateway.Gateway
// grpc.method=CommitStatus … grpc.call_duration=D"): the gateway answers
// once the peer has committed the transaction, so a client that asks as
// soon as ordering has accepted the transaction (as the batcher does)
// waits here through ordering, delivery, validation and commit. The log
// does not name the transaction.
type StatusWait struct {
	Began    time.Time // the answer's time less the call's duration
	Answered time.Time
	Client   string // the client's address (grpc.peer_address)
}

// PeerLog is what a Fabric peer's log says of one channel: its blocks
// (in the order the log first names them) and the commit-status calls
// answered OK (in log order; the gateway does not name the channel).
type PeerLog struct {
	Blocks []PeerBlock
	Waits  []StatusWait
}

// ParsePeerLog reads a Fabric peer's log. Lines of other kinds or
// channels are skipped. A block the peer committed twice (a ledger
// rebuilt) keeps its last times.
func ParsePeerLog(r io.Reader, channel string) (PeerLog, error) {
	var blocks blockList[PeerBlock]
	var waits []StatusWait
	block := func(n string) *PeerBlock {
		num, _ := strconv.ParseUint(n, 10, 64)
		return blocks.get(num, func() PeerBlock { return PeerBlock{Number: num} })
	}
	err := scanFabricLog(r, func(at time.Time, rest string) {
		if statusCall.MatchString(rest) {
			f := map[string]string{}
			for _, m := range grpcField.FindAllStringSubmatch(rest, -1) {
				f[m[1]] = m[2]
			}
			if d, err := time.ParseDuration(f["call_duration"]); err == nil && f["code"] == "OK" {
				waits = append(waits, StatusWait{Began: at.Add(-d), Answered: at, Client: f["peer_address"]})
			}
		} else if m := peerCommitted.FindStringSubmatch(rest); m != nil && m[1] == channel {
			b := block(m[2])
			b.Committed = at
			b.Txs, _ = strconv.Atoi(m[3])
			b.Commit, b.StateValidation, b.BlockCommit, b.StateCommit = millis(m[4]), millis(m[5]), millis(m[6]), millis(m[7])
		} else if m := peerValidated.FindStringSubmatch(rest); m != nil && m[1] == channel {
			b := block(m[2])
			b.Validated, b.Validate = at, millis(m[3])
		} else if m := peerReceived.FindStringSubmatch(rest); m != nil && m[2] == channel {
			block(m[1]).Received = at
		}
	})
	return PeerLog{Blocks: blocks.list, Waits: waits}, err
}

// OrdererBlocks reads a SmartBFT orderer's log and returns the blocks of
// channel it processed a proposal for or decided, in the order the log
// first names them. Lines of other kinds or channels are skipped.
func OrdererBlocks(r io.Reader, channel string) ([]OrdererBlock, error) {
	var blocks blockList[OrdererBlock]
	err := scanFabricLog(r, func(at time.Time, rest string) {
		if m := ordererDecided.FindStringSubmatch(rest); m != nil && m[2] == channel {
			num, _ := strconv.ParseUint(m[1], 10, 64)
			if b := blocks.get(num, func() OrdererBlock { return OrdererBlock{Number: num} }); b.Decided.IsZero() {
				b.Decided = at
			}
		} else if m := ordererProposed.FindStringSubmatch(rest); m != nil && m[2] == channel {
			num, _ := strconv.ParseUint(m[1], 10, 64)
			blocks.get(num, func() OrdererBlock { return OrdererBlock{Number: num} }).Proposed = at
		}
	})
	return blocks.list, err
}

// millis is a logged count of milliseconds as a duration (the patterns
// admit digits only).
func millis(s string) time.Duration {
	n, _ := strconv.ParseInt(s, 10, 64)
	return time.Duration(n) * time.Millisecond
}

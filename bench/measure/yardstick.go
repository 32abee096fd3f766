package measure

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Yardstick is what a fixed CPU-only Go workload achieved on this machine
// at one moment, on one core and on every core at once. The host's speed
// shows in every absolute figure of a report (one code measured 1.5-2x
// apart on two VMs of the same size), so reports of different machines or
// hours compare through it: a figure that moved with the yardstick moved
// with the machine.
//
// The workload is a vote-sized record encoded to JSON, decoded again and
// hashed with SHA-256: allocation, reflection and hashing, as the gateway,
// the chaincode and the peers do. An operation is one such round.
type Yardstick struct {
	At time.Time `json:"at"`
	// OneCore is operations per second of one goroutine.
	OneCore float64 `json:"one_core_ops_per_s"`
	// AllCores is operations per second of one goroutine per core at once;
	// on a host whose cores are contended it falls short of CPUs × OneCore.
	AllCores float64 `json:"all_cores_ops_per_s"`
	CPUs     int     `json:"cpus"`
}

// Scaling is AllCores over OneCore: how many cores' worth the machine gave
// when every core was asked for (CPUs on a host that gives them all).
func (y Yardstick) Scaling() float64 {
	if y.OneCore == 0 {
		return 0
	}
	return y.AllCores / y.OneCore
}

// yardRecord is the workload's record: the shape of a vote request.
type yardRecord struct {
	Election string   `json:"election"`
	State    string   `json:"state"`
	VoterID  string   `json:"voter_id"`
	Secret   string   `json:"secret"`
	Choices  []string `json:"choices"`
	Seq      int      `json:"seq"`
}

// yardOp is one operation of the workload; it returns a byte of the digest
// so the work cannot be optimised away.
func yardOp(i int) byte {
	rec := yardRecord{
		Election: "national-2026", State: "S07", VoterID: "V0000000123456",
		Secret: "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA", Choices: []string{"candidate-3"}, Seq: i,
	}
	b, err := json.Marshal(rec)
	if err != nil {
		panic(err) // a fixed record always encodes
	}
	var back yardRecord
	if err := json.Unmarshal(b, &back); err != nil {
		panic(err)
	}
	sum := sha256.Sum256(b)
	return sum[back.Seq%len(sum)]
}

// MeasureYardstick runs the workload for d on one goroutine, then for d on
// one goroutine per core, and returns both rates; ctx ends it early (the
// rates then cover the time it ran). It takes about 2 × d.
func MeasureYardstick(ctx context.Context, d time.Duration) Yardstick {
	y := Yardstick{At: time.Now(), CPUs: runtime.NumCPU()}
	y.OneCore = yardRun(ctx, d, 1)
	y.AllCores = yardRun(ctx, d, y.CPUs)
	return y
}

// yardRun runs the workload on n goroutines for d and returns operations
// per second of them all.
func yardRun(ctx context.Context, d time.Duration, n int) float64 {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var ops atomic.Int64
	var sink atomic.Uint32
	var wg sync.WaitGroup
	start := time.Now()
	for g := 0; g < n; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var local int64
			var acc byte
			for i := 0; ; i++ {
				if i%64 == 0 && ctx.Err() != nil {
					break
				}
				acc ^= yardOp(i)
				local++
			}
			ops.Add(local)
			sink.Add(uint32(acc))
		}()
	}
	wg.Wait()
	el := time.Since(start).Seconds()
	if el <= 0 {
		return 0
	}
	return float64(ops.Load()) / el
}

package suite

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/network"

	"github.com/votechain/votechain/bench/ledgerload"
	"github.com/votechain/votechain/bench/measure"
	"github.com/votechain/votechain/bench/report"
	"github.com/votechain/votechain/network/fabricclient"
)

// The ledger side, driven directly (CommitBatch with pre-built batches, no
// gateway or Redis): the sweep of votes per transaction and in-flight
// depth, the ceiling on a fresh ledger, after the intake phases and after
// the ledger has grown, and the naive one-vote-per-transaction baseline.

// seqsPerDrive is the range of batch numbers each drive of a run gets.
const seqsPerDrive = 500_000

// ledgerUnderTest is a network the drives commit to, with the CPU book of
// its processes: the run's own, or an extra one brought up for a phase.
type ledgerUnderTest struct {
	consensus string
	ledger    *fabricclient.Ballot
	book      *measure.CPUBook
	voters    []ballot.RollEntry // who casts the votes on another network (nil: random voters)
	election  *ballot.Election   // set up on another network (nil: the run's)
	// rollEntries is the roll entries (voter and contest) sealed on the
	// ledger: each is a key every vote of that voter reads and finds, so
	// ceilings of networks with rolls of different sizes differ by that.
	rollEntries int
}

// own is the run's own network.
func (r *run) own() ledgerUnderTest {
	return ledgerUnderTest{consensus: r.rep.Ledger14.Consensus, ledger: r.ledger, book: r.book, rollEntries: r.rollEntries}
}

// drive runs one ledger drive on the run's network as CPU phase name.
func (r *run) drive(ctx context.Context, name string, d ledgerload.Drive) ledgerload.DriveResult {
	return r.driveOn(ctx, r.own(), name, d)
}

// driveOn runs one ledger drive on lt as CPU phase name and books it. On
// the run's network it casts the driver roll's voters, and does not run
// (the run fails, ErrDriverVoters) if they might not cover it; on another
// network, lt.voters.
func (r *run) driveOn(ctx context.Context, lt ledgerUnderTest, name string, d ledgerload.Drive) ledgerload.DriveResult {
	if r.fatal != nil {
		return ledgerload.DriveResult{VotesPerTx: d.VotesPerTx, InFlight: d.InFlight}
	}
	d.SeqBase, r.nextSeq = r.nextSeq, r.nextSeq+seqsPerDrive
	if d.Prebuilt == 0 {
		d.Prebuilt = max(400, 2*d.InFlight)
	}
	if lt.ledger == r.ledger {
		need := r.cfg.Plan.driveVoters(d.VotesPerTx, d.InFlight, d.Warmup+d.Duration)
		if d.StopAfter > 0 {
			need = min(need, d.StopAfter+d.InFlight*d.VotesPerTx)
		}
		if err := r.enoughVoters(name, need, d.Contests); err != nil {
			r.fail(err)
			return ledgerload.DriveResult{VotesPerTx: d.VotesPerTx, InFlight: d.InFlight}
		}
		d.Roll = r.driverRoll
	} else {
		d.Roll = lt.voters
	}
	voters := "random voters"
	if d.Roll != nil {
		voters = fmt.Sprintf("%d roll entries (voter and contest) left", len(d.Roll))
	}
	r.say("%s: %d votes/tx, %d in flight, %s, %s", name, d.VotesPerTx, d.InFlight, d.Duration, voters)
	lt.book.Begin(name)
	from := time.Now()
	e := r.election
	if lt.election != nil {
		e = lt.election
	}
	res, err := ledgerload.Run(ctx, lt.ledger, e, d)
	lt.book.End()
	r.mark(name, from, time.Now())
	if lt.ledger == r.ledger {
		r.driverRoll = res.Unused(r.driverRoll)
	}
	if err != nil {
		r.note("%s: %v", name, err)
	}
	r.say("%s: %.0f votes/s, %.0f counted/s (%.1f tx/s, %d errors; %d votes counted, %d rejected)", name, res.VotesPerS, res.CountedPerS, res.TxPerS, res.Errors, res.Counted, res.Rejected)
	if res.FirstError != "" {
		r.note("%s: %d failed transactions, first: %s", name, res.Errors, res.FirstError)
	}
	if res.Rejected > 0 {
		r.note("%s: the chaincode rejected %d of the %d driver votes it committed (%v): the votes/s include refusals; counted %.0f/s", name, res.Rejected, res.AllVotes, res.Reasons, res.CountedPerS)
	}
	if res.RollOut {
		flag, rate := "--drive-rate", r.cfg.Plan.DriveRate
		if lt.ledger != r.ledger {
			flag, rate = "--extra-drive-rate", max(rate, r.cfg.Plan.ExtraDriveRate)
		}
		r.fail(fmt.Errorf("%w: %s ran out of them after %d votes, faster than %s %.0f votes/s allows for: raise it", ErrDriverVoters, name, res.AllVotes, flag, rate))
	}
	return res
}

// ceiling measures the ceiling on the run's network at the best setting
// as CPU phase name.
func (r *run) ceiling(ctx context.Context, name string, dur time.Duration) report.Ceiling {
	from := time.Now()
	c := r.ceilingOn(ctx, r.own(), name, dur, nil)
	r.noteCompactions(name, from, time.Now())
	return c
}

// noteCompactions notes what the peers' state databases compacted while
// drive or probe name ran, from goleveldb's own LOG files. A 20 s drive
// writes about one memtable; level 0's compaction into level 1 comes every
// fourth (with level 1's into level 2 after it) and costs the drive that
// meets it a quarter to a half more peer CPU per vote (docs/ledger.md), so
// ceilings are only comparable when this note says they met the same; a
// pace probe that meets one commits from fewer cores left. Each counts with
// the part of its time inside the window; one still running when the LOG
// is read is missed (a ceiling's note is read as its drive ends, a probe's
// after its drain).
func (r *run) noteCompactions(name string, from, to time.Time) {
	var peers []string
	for _, o := range network.PeerOrgs() {
		file := filepath.Join(r.st.Network().Layout().NodeDataDir(o.PeerHost()), "ledgersData", "stateLeveldb", "LOG")
		f, err := os.Open(file)
		if err != nil {
			r.note("%s: LevelDB compactions: %v", name, err)
			return
		}
		c, err := measure.LevelDBCompactions(f, from, to)
		f.Close()
		if err != nil {
			r.note("%s: LevelDB compactions: %s: %v", name, file, err)
			return
		}
		peers = append(peers, fmt.Sprintf("%s %s", network.PeerProcess(o), c))
	}
	r.note("%s: the peers' state databases meanwhile (LevelDB LOG): %s", name, strings.Join(peers, "; "))
}

// faults is a drive's page faults (n, by processes that spent cpuSecs)
// per 1,000 of its votes, and their share of that CPU at the cost per fault
// the machine showed before the run.
func (r *run) faults(n int64, cpuSecs float64, votes int) report.Faults {
	var f report.Faults
	if votes > 0 {
		f.PageFaultsPer1000 = float64(n) / float64(votes) * 1000
	}
	if c := r.rep.Machine.PageFaultStart; c != nil && cpuSecs > 0 {
		f.PageFaultCPUShare = c.CPUSeconds(n) / cpuSecs
	}
	return f
}

// ceilingOn measures the ceiling on lt as CPU phase name, the votes in the
// given contests (all if nil).
func (r *run) ceilingOn(ctx context.Context, lt ledgerUnderTest, name string, dur time.Duration, contests []string) report.Ceiling {
	before, _ := lt.ledger.Results(ctx)
	c := report.Ceiling{Consensus: lt.consensus, AtVotes: before.Counted + before.Rejected, Contests: contests, RollEntries: lt.rollEntries}
	c.Drive = r.driveOn(ctx, lt, name, ledgerload.Drive{VotesPerTx: r.best.VotesPerTx, InFlight: r.best.InFlight, Warmup: r.cfg.Plan.Warmup, Duration: dur, Contests: contests})
	// CPU over the whole drive, per vote committed over the whole drive.
	secs := lt.book.Seconds(name, ledgerNode)
	if c.Drive.AllVotes > 0 {
		c.CPUPer1000 = secs / float64(c.Drive.AllVotes) * 1000
	}
	if w := lt.book.WallSeconds(name); w > 0 {
		c.Cores = secs / w
	}
	c.Faults = r.faults(lt.book.PageFaults(name, ledgerNode), secs, c.Drive.AllVotes)
	return c
}

// ledgerVotes is the votes on a ledger (counted and rejected, every
// writer), 0 if the ledger cannot say.
func (r *run) ledgerVotes(ctx context.Context, ledger *fabricclient.Ballot) uint64 {
	res, err := ledger.Results(ctx)
	if err != nil {
		r.note("ledger results: %v", err)
		return 0
	}
	return res.Counted + res.Rejected
}

// sweep tries votes per transaction at the first in-flight depth, then the
// other depths at the size chosen among them; when the choice rests on
// rates within the noise band (report.ChooseSetting), it drives the two
// contenders once more each, then chooses the setting for the ceilings;
// then measures the fresh-ledger ceiling there.
func (r *run) sweep(ctx context.Context) {
	pl := r.cfg.Plan
	l := &r.rep.Ledger14
	fallback := report.SweepSetting{VotesPerTx: pl.CeilingVotes, InFlight: pl.CeilingFlight}
	r.best = ledgerload.DriveResult{VotesPerTx: pl.CeilingVotes, InFlight: pl.CeilingFlight}
	var trials []report.SweepTrial
	try := func(votes, flight int, confirm bool) {
		// The committing nodes' CPU over this drive alone: the book adds
		// up every window of the phase.
		cpu0, faults0 := r.book.Seconds("sweep", commitNode), r.book.PageFaults("sweep", commitNode)
		res := r.drive(ctx, "sweep", ledgerload.Drive{VotesPerTx: votes, InFlight: flight, Warmup: pl.Warmup, Duration: pl.SweepDur})
		t := report.SweepTrial{VotesPerTx: votes, InFlight: flight, CountedPerS: res.CountedPerS, Errors: res.Errors, Confirm: confirm}
		if res.AllVotes > 0 {
			secs := r.book.Seconds("sweep", commitNode) - cpu0
			t.CPUPer1000 = secs / float64(res.AllVotes) * 1000
			t.Faults = r.faults(r.book.PageFaults("sweep", commitNode)-faults0, secs, res.AllVotes)
		}
		l.Sweep, trials = append(l.Sweep, res), append(trials, t)
	}
	choose := func() report.SweepChoice { return report.ChooseSetting(trials, pl.SweepNoise, fallback) }
	if len(pl.SweepFlights) > 0 {
		for _, v := range pl.SweepVotes {
			try(v, pl.SweepFlights[0], false)
		}
		size := choose().Chosen.VotesPerTx
		for _, f := range pl.SweepFlights[1:] {
			try(size, f, false)
		}
		con := choose().Contenders()
		if len(con) > 0 && !pl.canConfirm(r.leftPerContest(), len(r.election.Contests)) {
			r.note("sweep: the tie between %s and %s was not confirmed: %d roll voters left per contest do not cover two more drives and the fresh ceiling", con[0], con[1], r.leftPerContest())
			con = nil
		}
		// The other first, the fastest last: a machine drifting busier
		// then works against the setting ahead, not for it.
		for i := len(con) - 1; i >= 0; i-- {
			try(con[i].VotesPerTx, con[i].InFlight, true)
		}
	}
	c := choose()
	if len(trials) > 0 {
		l.Choice = &c
	}
	for i, t := range trials {
		if t.VotesPerTx == c.Chosen.VotesPerTx && t.InFlight == c.Chosen.InFlight {
			r.best = l.Sweep[i]
		}
	}
	r.best.VotesPerTx, r.best.InFlight = c.Chosen.VotesPerTx, c.Chosen.InFlight
	r.say("setting for the ceilings: %d votes/tx, %d in flight: %s", r.best.VotesPerTx, r.best.InFlight, c.Why())
	l.Fresh = r.ceiling(ctx, "ceiling-fresh", pl.CeilingDur)
	r.contestsPair(ctx)
}

// ceilingAndNaive measures the ceiling after the intake phases and the
// naive baseline, on the now idle system: once the explorer has indexed the
// intake phases' blocks (catchUp), so the drive does not share the ledger
// side with that backlog.
func (r *run) ceilingAndNaive(ctx context.Context) {
	pl := r.cfg.Plan
	r.rep.CeilingStart = r.catchUp(ctx, "catch-up-ceiling")
	r.rep.Ledger14.After = r.ceiling(ctx, "ceiling", pl.CeilingDur)
	r.rep.Ceiling = r.rep.Ledger14.After.Drive
	r.rep.Naive = r.drive(ctx, "naive", ledgerload.Drive{VotesPerTx: 1, InFlight: pl.NaiveFlight, Warmup: pl.Warmup, Duration: pl.NaiveDur, Prebuilt: 20000})
}

// grow fills the ledger with the ceiling driver until it holds
// pl.GrowTo votes (or pl.FillLimit passes), then measures the ceiling again.
func (r *run) grow(ctx context.Context) {
	pl := r.cfg.Plan
	l := &r.rep.Ledger14
	if pl.GrowTo == 0 {
		return
	}
	if have := r.ledgerVotes(ctx, r.ledger); have < pl.GrowTo {
		r.say("filling the ledger from %d to %d votes (at most %s)", have, pl.GrowTo, pl.FillLimit)
		l.Fill = r.drive(ctx, "fill", ledgerload.Drive{VotesPerTx: r.best.VotesPerTx, InFlight: r.best.InFlight,
			Duration: pl.FillLimit, StopAfter: int(pl.GrowTo - have)})
	}
	l.Grown = r.ceiling(ctx, "ceiling-grown", pl.CeilingDur)
	if l.Grown.AtVotes < pl.GrowTo {
		r.note("the ledger held %d votes, not %d, when the grown ceiling was measured (the fill stopped at its time limit, %s)", l.Grown.AtVotes, pl.GrowTo, pl.FillLimit)
	}
	if f := l.Fresh.Drive.CountedPerS; f > 0 {
		l.GrownOverFresh = l.Grown.Drive.CountedPerS / f
	}
}

// note adds a line to the report's notes.
func (r *run) note(format string, a ...any) {
	r.rep.Notes = append(r.rep.Notes, fmt.Sprintf(format, a...))
}

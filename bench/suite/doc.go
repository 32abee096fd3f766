// Package suite runs the whole benchmark behind `make bench`: it brings up
// the benchmark's own system, runs the phases (referendum rate, ramp to the
// knee, fixed offered rates, sustained commit, surge and drain, ledger
// ceiling, naive baseline, results reads, the other consensus's ceiling,
// the ceiling with and without eligibility on the ledger, the contests
// pair), checks that no
// accepted vote was
// lost, measures processes, Redis and the ledger, and returns the report.
// The votes spread over the election's contests: each intake voter votes in
// one (loadgen), the ledger drives cast their votes in the contests in turn;
// the ceiling is also measured with every vote in one contest against the
// votes over several: with several contests on the run's network
// (contestsPair), with one on an extra network whose election has
// Config.Contests (contestsOnExtra). The report gives the results per
// contest (one row for a one-race run).
package suite

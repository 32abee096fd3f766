package report

import (
	"cmp"
	"fmt"
	"slices"
)

// How the sweep picks the setting every later ceiling runs at. A sweep
// drive is short (6 s by default) and holds only a few blocks of large
// transactions, so rates of settings a few percent apart swap places from
// run to run; the CPU the committing nodes spend per vote is steadier (on
// a machine where the ledger side is CPU-bound, the rate is the cores it
// gets divided by it). So: the fastest setting wins when no other comes
// within the noise band of its rate; when one does, the two fastest are
// driven once more each and pooled, and of those two the faster wins
// unless the other's pooled rate is within the band, when the one with the
// least CPU per vote wins (with no confirmation: among all the settings
// within the band of the fastest).

// SweepTrial is one sweep drive: its setting, counted votes per second
// of its window, and the CPU of the committing nodes (peers, chaincode
// servers, orderers; not the explorer, which lags the drives) in
// core-seconds per 1,000 votes committed over the drive.
type SweepTrial struct {
	VotesPerTx  int     `json:"votes_per_tx"`
	InFlight    int     `json:"in_flight"`
	CountedPerS float64 `json:"counted_per_s"`
	CPUPer1000  float64 `json:"cpu_s_per_1000_votes"`
	Faults
	Errors  int  `json:"errors"`
	Confirm bool `json:"confirmation,omitempty"` // a rerun of one of the two fastest settings
}

// SweepSetting is a setting's trials pooled: the mean rate and CPU.
type SweepSetting struct {
	VotesPerTx  int     `json:"votes_per_tx"`
	InFlight    int     `json:"in_flight"`
	Trials      int     `json:"trials"`
	CountedPerS float64 `json:"counted_per_s"`
	CPUPer1000  float64 `json:"cpu_s_per_1000_votes"`
}

func (s SweepSetting) String() string { return fmt.Sprintf("%d×%d", s.VotesPerTx, s.InFlight) }

// Ways a setting is chosen (SweepChoice.By).
const (
	ByRate    = "rate"    // the fastest, no other within the noise band
	ByCPU     = "cpu"     // the least CPU per vote among those within the band of the fastest
	ByDefault = "default" // no trial without errors: the plan's setting
)

// SweepChoice is the setting the ceilings run at and why.
type SweepChoice struct {
	Noise    float64        `json:"noise"`    // rates within this share of the fastest count as equal
	Trials   []SweepTrial   `json:"trials"`   // every drive, in run order
	Settings []SweepSetting `json:"settings"` // pooled per setting (error-free trials only), fastest first
	// Chosen is the setting; By how it was chosen; Runner the fastest
	// other setting (zero if none).
	Chosen SweepSetting `json:"chosen"`
	Runner SweepSetting `json:"runner_up"`
	By     string       `json:"by"`
}

// ChooseSetting pools trials per setting (those with errors left out) and
// chooses; fallback is chosen (ByDefault) when no trial is usable.
func ChooseSetting(trials []SweepTrial, noise float64, fallback SweepSetting) SweepChoice {
	c := SweepChoice{Noise: noise, Trials: trials, Chosen: fallback, By: ByDefault}
	for _, t := range trials {
		if t.Errors > 0 || t.CountedPerS <= 0 {
			continue
		}
		i := slices.IndexFunc(c.Settings, func(s SweepSetting) bool { return s.VotesPerTx == t.VotesPerTx && s.InFlight == t.InFlight })
		if i < 0 {
			c.Settings = append(c.Settings, SweepSetting{VotesPerTx: t.VotesPerTx, InFlight: t.InFlight})
			i = len(c.Settings) - 1
		}
		s := &c.Settings[i]
		n := float64(s.Trials)
		s.CountedPerS = (s.CountedPerS*n + t.CountedPerS) / (n + 1)
		s.CPUPer1000 = (s.CPUPer1000*n + t.CPUPer1000) / (n + 1)
		s.Trials++
	}
	slices.SortStableFunc(c.Settings, func(a, b SweepSetting) int { return cmp.Compare(b.CountedPerS, a.CountedPerS) })
	if len(c.Settings) == 0 {
		return c
	}
	// After a confirmation the choice is between the two settings it
	// drove, so that it never rests on a single drive of a third.
	cands := c.Settings
	if confirmed := slices.DeleteFunc(slices.Clone(c.Settings), func(s SweepSetting) bool { return !c.confirmed(s) }); len(confirmed) > 0 {
		cands = confirmed
	}
	c.Chosen, c.By = cands[0], ByRate
	for _, s := range cands[1:] {
		if s.CountedPerS < (1-noise)*cands[0].CountedPerS {
			break
		}
		if s.CPUPer1000 > 0 && (c.Chosen.CPUPer1000 <= 0 || s.CPUPer1000 < c.Chosen.CPUPer1000) {
			c.Chosen = s
		}
		c.By = ByCPU
	}
	for _, s := range append(slices.Clone(cands), c.Settings...) {
		if s != c.Chosen {
			c.Runner = s
			break
		}
	}
	return c
}

// confirmed reports whether a confirmation drive ran at s's setting.
func (c SweepChoice) confirmed(s SweepSetting) bool {
	return slices.ContainsFunc(c.Trials, func(t SweepTrial) bool {
		return t.Confirm && t.VotesPerTx == s.VotesPerTx && t.InFlight == s.InFlight
	})
}

// Contenders are the settings to drive once more before choosing, when
// the choice rests on a tie and no confirmation has run yet: the fastest
// and the one chosen for its CPU, or the two fastest when the fastest is
// also the cheapest; none otherwise.
func (c SweepChoice) Contenders() []SweepSetting {
	if c.By != ByCPU || slices.ContainsFunc(c.Settings, c.confirmed) {
		return nil
	}
	if c.Chosen != c.Settings[0] {
		return []SweepSetting{c.Settings[0], c.Chosen}
	}
	return c.Settings[:2]
}

// Why says in a sentence how the setting was chosen, with the margin.
func (c SweepChoice) Why() string {
	ch, ru := c.Chosen, c.Runner
	pooled := ""
	if ch.Trials > 1 || ru.Trials > 1 {
		pooled = fmt.Sprintf(", means of %d and %d drives", ch.Trials, ru.Trials)
	}
	switch {
	case c.By == ByDefault:
		return fmt.Sprintf("no sweep drive counted votes in its window without errors, so the plan's setting %s is used", ch)
	case ru.Trials == 0:
		return fmt.Sprintf("%s is the only setting that counted votes in its window without errors", ch)
	case c.By == ByRate:
		return fmt.Sprintf("%s is the fastest by %.0f%% (%s against %s counted/s for %s%s), outside the %.0f%% noise band", ch, pct(ch.CountedPerS, ru.CountedPerS),
			num(ch.CountedPerS), num(ru.CountedPerS), ru, pooled, c.Noise*100)
	case ch.CountedPerS >= ru.CountedPerS:
		return fmt.Sprintf("%s is the fastest (%s against %s counted/s for %s%s, %.0f%% apart, within the %.0f%% noise band) and also spends the least CPU per vote among the settings in the band (%.3f against %.3f core-s per 1,000 votes)",
			ch, num(ch.CountedPerS), num(ru.CountedPerS), ru, pooled, pct(ch.CountedPerS, ru.CountedPerS), c.Noise*100, ch.CPUPer1000, ru.CPUPer1000)
	default: // the runner-up is the fastest
		return fmt.Sprintf("%s's rate is within the %.0f%% noise band of the fastest, %s (%s against %s counted/s%s, %.0f%% apart), and it spends %.0f%% less CPU per vote (%.3f against %.3f core-s per 1,000 votes), the steadier measure",
			ch, c.Noise*100, ru, num(ch.CountedPerS), num(ru.CountedPerS), pooled, pct(ru.CountedPerS, ch.CountedPerS), -pct(ch.CPUPer1000, ru.CPUPer1000), ch.CPUPer1000, ru.CPUPer1000)
	}
}

// pct is how much a exceeds b, in percent of b (0 when b is 0).
func pct(a, b float64) float64 {
	if b <= 0 {
		return 0
	}
	return (a/b - 1) * 100
}

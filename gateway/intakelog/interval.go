package intakelog

import (
	"fmt"
	"time"
)

// UnanchoredAlertAfter is how long after the oldest head not yet anchored
// was published the IntakeLogUnanchored alert (config/prometheus/alerts.yml)
// fires, unless by then some gateway shows anchored a head as large as the
// one published a minute before: the rule compares the head published
// 1 min before (its offset) with the anchored one, for 2 min (its for), so
// its clock starts 1 min after that oldest head and heads published after
// it do not restart it. A test reads both from the rule.
const UnanchoredAlertAfter = 3 * time.Minute

// maxScrapeInterval is the longest scrape interval of the gateways that
// alertMargin assumes of the operator's Prometheus (make up's monitor,
// internal/monitor, scrapes every 5 s).
const maxScrapeInterval = 15 * time.Second

// alertMargin is left of UnanchoredAlertAfter for Prometheus to see an
// anchor: the anchored gauge reaches the rule with the next scrape of the
// gateway that anchored, up to a scrape interval later, plus the scrape's
// own time and ingestion, taken to be as long again. The rule's evaluations
// take none of it: the alert fires at an evaluation at least
// UnanchoredAlertAfter after the oldest head, which sees every sample
// ingested before it.
const alertMargin = 2 * maxScrapeInterval

// takeOverBy is the longest a running gateway whose Interval and
// CallTimeout are interval and call takes to anchor a head stored by
// another gateway (of its key or not) that stopped before anchoring it, from that
// head's publication, the last that gateway made (the take-over's clock,
// stateLog.lostAt, starts again with each size refused): its next round
// signs that size and is refused (an interval), it waits takeOverDelay,
// the round that finds the delay passed comes an interval later at most,
// and that round's anchor comes within takeOverDelay again (it may wait
// for the anchor in flight, and a round, as the winner's may). Signing a
// round's states, up to call each, may delay it more (takeOverDelay).
func takeOverBy(interval, call time.Duration) time.Duration {
	return 2*interval + 2*takeOverDelay(interval, call)
}

// unanchoredBy is the longest, from the publication of the oldest head
// that a gateway stopped before anchoring, till a running gateway (of
// its key or not) anchors it (the alert's clock, UnanchoredAlertAfter): the
// stopped gateway may have gone on publishing heads, unanchored, for
// takeOverDelay after that one (its anchor in flight, a round, its own
// anchor of them), and the take-over of its last head takes takeOverBy
// from that one's publication. 5 × interval + 24 × call: 125 s by default.
func unanchoredBy(interval, call time.Duration) time.Duration {
	return takeOverDelay(interval, call) + takeOverBy(interval, call)
}

// longestWithin is the longest x, to the millisecond, for which f(x) is
// at most UnanchoredAlertAfter less alertMargin; f grows in x as a line
// does (unanchoredBy in one argument). It is negative when f(0) is already
// past.
func longestWithin(f func(x time.Duration) time.Duration) time.Duration {
	base := f(0)
	perNanosecond := f(1) - base
	return ((UnanchoredAlertAfter - alertMargin - base) / perNanosecond).Truncate(time.Millisecond)
}

// MaxInterval is the longest Interval of a Log with c's CallTimeout (a
// zero one taken as DefaultConfig's; 6 s by default): the longest with
// which a running gateway's take-over of the heads that another gateway
// (of its key or not) stopped before anchoring anchors them (unanchoredBy: five
// Intervals and six anchor timeouts from the oldest of them) before
// IntakeLogUnanchored fires (UnanchoredAlertAfter from the oldest, less
// alertMargin for Prometheus to see the anchor). With a longer one, that
// take-over could come after the page. It does not depend on c.Interval.
func (c Config) MaxInterval() time.Duration {
	call := c.withDefaults().CallTimeout
	return longestWithin(func(interval time.Duration) time.Duration { return unanchoredBy(interval, call) })
}

// maxCallTimeout is the longest CallTimeout whose MaxInterval is at least
// DefaultConfig's Interval.
func maxCallTimeout() time.Duration {
	interval := DefaultConfig().Interval
	return longestWithin(func(call time.Duration) time.Duration { return unanchoredBy(interval, call) })
}

// Check refuses a configuration Run cannot keep, with a message that says
// the fix: a negative CallTimeout, or one so long that no Interval from
// DefaultConfig's up stays within MaxInterval (maxCallTimeout); a negative
// Interval, or one (zero taken as DefaultConfig's) longer than
// MaxInterval. The gateway checks it with its flags, before New.
func (c Config) Check() error {
	d := c.withDefaults()
	if longest := maxCallTimeout(); d.CallTimeout < 0 || d.CallTimeout > longest {
		return fmt.Errorf("CallTimeout %s is out of range: give a positive one, at most %s; with a longer one, even the default Interval, %s, lets a gateway's take-over of the heads another gateway stopped before anchoring anchor them only after the IntakeLogUnanchored alert has fired (%s after the oldest of them was published)", d.CallTimeout, longest, DefaultConfig().Interval, UnanchoredAlertAfter)
	}
	longest := d.MaxInterval()
	switch {
	case d.Interval < 0:
		return fmt.Errorf("interval %s is negative: give a positive duration, at most %s", d.Interval, longest)
	case d.Interval > longest:
		return fmt.Errorf("interval %s is longer than %s: give %s or less; with a longer one, a gateway's take-over of the heads another gateway stopped before anchoring may anchor them only after the IntakeLogUnanchored alert has fired (%s after the oldest of them was published)", d.Interval, longest, longest, UnanchoredAlertAfter)
	}
	return nil
}

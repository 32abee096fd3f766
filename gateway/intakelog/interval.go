package intakelog

import (
	"fmt"
	"time"
)

// UnanchoredAlertAfter is how long after a head is published the
// IntakeLogUnanchored alert (config/prometheus/alerts.yml) fires if no
// gateway shows it anchored by then: the rule compares the head published
// 1 min before (its offset) with the anchored one, for 2 min (its for).
// A test reads both from the rule.
const UnanchoredAlertAfter = 3 * time.Minute

// alertMargin is left of UnanchoredAlertAfter for Prometheus to see an
// anchor: a scrape of the gateway and an evaluation of the rule, 15 s
// each at most (make up's Prometheus does both every 5 s).
const alertMargin = 30 * time.Second

// takeOverBy is the longest a running gateway whose Interval and
// CallTimeout are interval and call takes to anchor a head stored by a
// gateway sharing its key that stopped before anchoring it, from that
// head's publication: its next round signs that size and is refused (an
// interval), it waits takeOverDelay, the round that finds the delay
// passed comes an interval later at most, and that round's anchor comes
// within takeOverDelay again (it may wait for the anchor in flight, and
// a round, as the winner's may). Signing a round's states, up to call
// each, may delay it more (takeOverDelay).
func takeOverBy(interval, call time.Duration) time.Duration {
	return 2*interval + 2*takeOverDelay(interval, call)
}

// MaxInterval is the longest Interval of a Log with c's CallTimeout (a
// zero one taken as DefaultConfig's; 17.5 s by default): the longest
// whose take-over of a head stored by a gateway that stopped before
// anchoring it (takeOverBy: four Intervals and four anchor timeouts)
// anchors that head before IntakeLogUnanchored fires
// (UnanchoredAlertAfter, less a scrape and an evaluation). With a longer
// one, a running gateway's take-over after another of its key stopped at
// the wrong moment could come after the page. It does not depend on
// c.Interval.
func (c Config) MaxInterval() time.Duration {
	call := c.withDefaults().CallTimeout
	return (UnanchoredAlertAfter - alertMargin - takeOverBy(0, call)) / 4 // takeOverBy grows by 4 intervals
}

// Check refuses a configuration Run cannot keep: a negative Interval
// (zero is DefaultConfig's), or one longer than MaxInterval, with a
// message that says the fix. The gateway checks it with its flags, before
// New.
func (c Config) Check() error {
	longest := c.MaxInterval()
	switch {
	case c.Interval < 0:
		return fmt.Errorf("intake log interval (--log-interval) is %s: give a positive duration, at most %s", c.Interval, longest)
	case c.Interval > longest:
		return fmt.Errorf("intake log interval (--log-interval) is %s: give %s or less; with a longer one, a gateway takes over and anchors a head that another gateway of its key stopped before anchoring only after the IntakeLogUnanchored alert has fired (%s after the head's publication)", c.Interval, longest, UnanchoredAlertAfter)
	}
	return nil
}

package measure

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"
)

// Compactions is the work a goleveldb database logged in a window: table
// compactions (level to level) and memtable flushes (to level 0), each
// with the time goleveldb says it took.
type Compactions struct {
	Tables    int
	TableTime time.Duration
	Flushes   int
	FlushTime time.Duration
}

func (c Compactions) String() string {
	return fmt.Sprintf("%d table compactions (%.1f s), %d memtable flushes (%.1f s)",
		c.Tables, c.TableTime.Seconds(), c.Flushes, c.FlushTime.Seconds())
}

// committedLine matches goleveldb's LOG line for a finished compaction or
// flush: "15:04:05.000000 table@compaction committed … T·5.89s" or
// "… memdb@flush committed F·1 T·527.7ms".
var committedLine = regexp.MustCompile(`^(\d\d:\d\d:\d\d\.\d+) (table@compaction|memdb@flush) committed .*T·(\S+)$`)

// LevelDBCompactions reads a goleveldb LOG file (the file named LOG in the
// database's folder, which goleveldb writes itself) and adds up the
// compactions and flushes that ran in the window from..to: each one whose
// span (its commit's time, less the time goleveldb says it took) overlaps
// the window counts once, with the part of its time inside the window. A
// compaction still running when the LOG is read is not in it yet: read the
// LOG once the database has had time to finish what began in the window.
// goleveldb stamps its lines with the local time of day only: a line's
// time is taken on from's day, the day before or the day after, whichever
// makes its span overlap the window, so the window must be shorter than a
// day. Lines of other kinds are skipped.
func LevelDBCompactions(r io.Reader, from, to time.Time) (Compactions, error) {
	var c Compactions
	day := time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, from.Location())
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		m := committedLine.FindStringSubmatch(strings.TrimSpace(sc.Text()))
		if m == nil {
			continue
		}
		clock, err := time.ParseInLocation("15:04:05.000000", m[1], from.Location())
		if err != nil {
			continue
		}
		took, err := time.ParseDuration(m[3])
		if err != nil {
			continue
		}
		at := day.Add(time.Duration(clock.Hour())*time.Hour + time.Duration(clock.Minute())*time.Minute +
			time.Duration(clock.Second())*time.Second + time.Duration(clock.Nanosecond()))
		for _, end := range []time.Time{at.Add(-24 * time.Hour), at, at.Add(24 * time.Hour)} {
			start := end.Add(-took)
			if end.Before(from) || start.After(to) {
				continue
			}
			inside := later(end, to, true).Sub(later(start, from, false))
			if m[2] == "memdb@flush" {
				c.Flushes, c.FlushTime = c.Flushes+1, c.FlushTime+inside
			} else {
				c.Tables, c.TableTime = c.Tables+1, c.TableTime+inside
			}
			break
		}
	}
	return c, sc.Err()
}

// later returns the later of a and b, or with earliest the earlier.
func later(a, b time.Time, earliest bool) time.Time {
	if a.After(b) != earliest {
		return a
	}
	return b
}

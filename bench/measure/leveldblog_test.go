package measure

import (
	"strings"
	"testing"
	"time"
)

// A goleveldb LOG excerpt (a peer's state database in a bench run): a flush
// and a compaction before the window, a flush and two compactions in it,
// one compaction after it.
const levelDBLog = `20:35:17.857790 memdb@flush committed F·1 T·527.740681ms
20:36:59.000001 table@compaction committed F+1 S-841B Ke·0 D·0 T·84.453426ms
20:37:17.662725 memdb@flush committed F·1 T·1.407345502s
20:37:17.718481 table@compaction L0·4 -> L1·13 S·203MiB Q·6159426
20:37:23.614993 table@compaction committed F+8 S-16MiB Ke·0 D·209207 T·5.896490441s
20:37:23.615054 table@compaction L1·1 -> L2·2 S·24MiB Q·6187448
20:37:24.291040 table@compaction committed F~ S-2MiB Ke·0 D·29259 T·675.9711ms
20:37:24.291057 version@stat F·[0 16 41] S·434MiB[0B 112MiB 321MiB] Sc·[0.00 1.13 0.32]
20:38:00.500000 table@compaction committed F-1 S-5MiB Ke·0 D·67873 T·2.643228352s
`

func TestLevelDBCompactionsInWindow(t *testing.T) {
	day := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	from, to := day.Add(20*time.Hour+37*time.Minute), day.Add(20*time.Hour+37*time.Minute+30*time.Second)
	got, err := LevelDBCompactions(strings.NewReader(levelDBLog), from, to)
	if err != nil {
		t.Fatal(err)
	}
	want := Compactions{Tables: 2, TableTime: 5896490441 + 675971100, Flushes: 1, FlushTime: 1407345502}
	if got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if s := got.String(); s != "2 table compactions (6.6 s), 1 memtable flushes (1.4 s)" {
		t.Errorf("String() = %q", s)
	}
}

// A window across midnight counts the lines stamped after 00:00 as the
// next day's.
func TestLevelDBCompactionsAcrossMidnight(t *testing.T) {
	day := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	from, to := day.Add(23*time.Hour+59*time.Minute), day.Add(24*time.Hour+time.Minute)
	log := "23:58:00.000000 table@compaction committed F+1 T·1s\n23:59:30.000000 table@compaction committed F+1 T·2s\n00:00:30.000000 memdb@flush committed F·1 T·3s\n00:02:00.000000 table@compaction committed F+1 T·4s\n"
	got, err := LevelDBCompactions(strings.NewReader(log), from, to)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Compactions{Tables: 1, TableTime: 2 * time.Second, Flushes: 1, FlushTime: 3 * time.Second}); got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

// A compaction counts in every window its span overlaps, with the part of
// its time inside: one that began before the window and one still running
// at its end (the 5.9 s compaction from 20:37:17.72 to 20:37:23.61).
func TestLevelDBCompactionsOverlapTheWindow(t *testing.T) {
	day := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	at := func(s string) time.Time {
		c, err := time.Parse("15:04:05.000000", s)
		if err != nil {
			t.Fatal(err)
		}
		return day.Add(c.Sub(time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)))
	}
	for _, tc := range []struct {
		name     string
		from, to time.Time
		want     Compactions
	}{
		{"ends inside it", at("20:37:20.000000"), at("20:37:40.000000"),
			Compactions{Tables: 2, TableTime: at("20:37:23.614993").Sub(at("20:37:20.000000")) + 675971100}},
		{"still running at its end", at("20:37:10.000000"), at("20:37:20.000000"),
			Compactions{Tables: 1, TableTime: at("20:37:20.000000").Sub(at("20:37:23.614993").Add(-5896490441)), Flushes: 1, FlushTime: 1407345502}},
		{"between two", at("20:37:25.000000"), at("20:37:57.000000"), Compactions{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := LevelDBCompactions(strings.NewReader(levelDBLog), tc.from, tc.to)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

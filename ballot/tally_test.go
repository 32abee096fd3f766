package ballot

import "testing"

func TestTally(t *testing.T) {
	a := Tally{"alice": 2}
	a.Add("bob", 3)
	a.Merge(Tally{"alice": 1, "carol": 0})
	if a["alice"] != 3 || a["bob"] != 3 || a.Total() != 6 {
		t.Fatalf("tally %v", a)
	}
	tests := []struct {
		x, y Tally
		eq   bool
	}{
		{Tally{}, nil, true},
		{Tally{"a": 0}, Tally{}, true},
		{Tally{"a": 1}, Tally{"a": 1, "b": 0}, true},
		{Tally{"a": 1}, Tally{"a": 2}, false},
		{Tally{"a": 1}, Tally{"b": 1}, false},
		{Tally{"a": 1}, Tally{"a": 1, "b": 1}, false},
	}
	for _, tt := range tests {
		if tt.x.Equal(tt.y) != tt.eq || tt.y.Equal(tt.x) != tt.eq {
			t.Errorf("%v.Equal(%v) != %v", tt.x, tt.y, tt.eq)
		}
	}
	if got := TallyOf([]Vote{{Candidate: "a"}, {Candidate: "b"}, {Candidate: "a"}}); !got.Equal(Tally{"a": 2, "b": 1}) {
		t.Errorf("TallyOf = %v", got)
	}
}

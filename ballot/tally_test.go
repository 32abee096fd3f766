package ballot

import (
	"encoding/json"
	"testing"
)

func TestTally(t *testing.T) {
	a := Tally{"p": {"alice": 2}}
	a.Add("p", "bob", 3)
	a.Add("q", "yes", 1)
	a.Merge(Tally{"p": {"alice": 1, "carol": 0}, "q": {"no": 4}})
	if a["p"]["alice"] != 3 || a["p"]["bob"] != 3 || a["q"]["yes"] != 1 || a["q"]["no"] != 4 {
		t.Fatalf("tally %v", a)
	}
	if a.Total() != 11 || a["p"].Total() != 6 || a["q"].Total() != 5 || a["r"].Total() != 0 {
		t.Fatalf("totals %d %d %d", a.Total(), a["p"].Total(), a["q"].Total())
	}
	tests := []struct {
		x, y Tally
		eq   bool
	}{
		{Tally{}, nil, true},
		{Tally{"p": {"a": 0}}, Tally{}, true},
		{Tally{"p": {}}, Tally{}, true},
		{Tally{"p": nil}, Tally{"q": {"a": 0}}, true},
		{Tally{"p": {"a": 1}}, Tally{"p": {"a": 1, "b": 0}}, true},
		{Tally{"p": {"a": 1}, "q": {"y": 2}}, Tally{"q": {"y": 2}, "p": {"a": 1}}, true},
		{Tally{"p": {"a": 1}}, Tally{"p": {"a": 2}}, false},
		{Tally{"p": {"a": 1}}, Tally{"p": {"b": 1}}, false},
		{Tally{"p": {"a": 1}}, Tally{"q": {"a": 1}}, false},
		{Tally{"p": {"a": 1}}, Tally{"p": {"a": 1, "b": 1}}, false},
		{Tally{"p": {"a": 1}}, Tally{"p": {"a": 1}, "q": {"a": 1}}, false},
	}
	for _, tt := range tests {
		if tt.x.Equal(tt.y) != tt.eq || tt.y.Equal(tt.x) != tt.eq {
			t.Errorf("%v.Equal(%v) != %v", tt.x, tt.y, tt.eq)
		}
	}
	votes := []Vote{{Contest: "p", Choice: "a"}, {Contest: "q", Choice: "a"}, {Contest: "p", Choice: "a"}, {Contest: "p", Choice: "b"}}
	if got := TallyOf(votes); !got.Equal(Tally{"p": {"a": 2, "b": 1}, "q": {"a": 1}}) {
		t.Errorf("TallyOf = %v", got)
	}
}

func TestTallyJSON(t *testing.T) {
	a := Tally{}
	a.Add("prop-1", "yes", 2)
	a.Add("president", "bob", 1)
	a.Add("president", "alice", 3)
	data, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"president":{"alice":3,"bob":1},"prop-1":{"yes":2}}`; string(data) != want {
		t.Fatalf("JSON %s, want %s", data, want)
	}
	var back Tally
	if err := json.Unmarshal(data, &back); err != nil || !back.Equal(a) {
		t.Fatalf("round trip %v, %v", back, err)
	}
}

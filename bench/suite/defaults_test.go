package suite

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
)

// TestDefaultsAreFreshEachCall: DefaultPlan, DefaultAB and OnlyPhases
// return values of their own, so a caller's edit of every element of every
// slice one call returned (as cmd/benchrun's plan := suite.DefaultPlan()
// and the tests' edits would be) does not reach the next call.
func TestDefaultsAreFreshEachCall(t *testing.T) {
	for name, get := range map[string]func() any{
		"DefaultPlan": func() any { return DefaultPlan() },
		"DefaultAB":   func() any { return DefaultAB() },
	} {
		before := fmt.Sprintf("%+v", get())
		if n := zeroSliceElements(reflect.ValueOf(get())); n == 0 {
			t.Fatalf("%s has no slice elements to change", name)
		}
		if after := fmt.Sprintf("%+v", get()); after != before {
			t.Errorf("a caller's change to %s's slices shows in the next call:\n%s\nnot\n%s", name, after, before)
		}
	}

	phases := OnlyPhases()
	want := []string{OnlyScaleOut, OnlySweep, OnlyIntake, OnlyAB}
	if !slices.Equal(phases, want) {
		t.Fatalf("OnlyPhases() = %q, want %q", phases, want)
	}
	phases[0] = "changed"
	if again := OnlyPhases(); !slices.Equal(again, want) {
		t.Errorf("a caller's change to OnlyPhases' slice shows in the next call: %q", again)
	}
}

// zeroSliceElements sets every element of every slice field of the struct
// s to the zero value, and returns how many it set. s may be a copy: its
// slices share their arrays with the value it was copied from.
func zeroSliceElements(s reflect.Value) int {
	n := 0
	for i := range s.NumField() {
		if f := s.Field(i); f.Kind() == reflect.Slice {
			for j := range f.Len() {
				f.Index(j).SetZero()
				n++
			}
		}
	}
	return n
}

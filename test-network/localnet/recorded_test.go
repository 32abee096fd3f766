package localnet

import (
	"encoding/json"
	"maps"
	"testing"

	"github.com/votechain/votechain/internal/proc"
)

// TestRecordedPIDsReadsTheStateFile: RecordedPIDs finds the processes in a
// state file as the instance writes it (the embedded record keeps "pids" at
// the top level) and in one of an older version (bare PIDs, other fields of
// other shapes it does not read); a file that is not JSON is an error.
func TestRecordedPIDsReadsTheStateFile(t *testing.T) {
	want := map[string]proc.ID{"orderer0": {PID: 4242, Start: 777}, "peer0.commission": {PID: 4343, Start: 888}}
	data, err := json.Marshal(state{PortBase: 27000, Created: true, recorded: recorded{PIDs: want}})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := RecordedPIDs(data); err != nil || !maps.Equal(got, want) {
		t.Errorf("RecordedPIDs of the instance's own state file %s: %v, %v; want %v", data, got, err, want)
	}
	older := []byte(`{"port_base":"27000","hosts":["a"],"pids":{"orderer0":4242}}`)
	if got, err := RecordedPIDs(older); err != nil || got["orderer0"].PID != 4242 {
		t.Errorf("RecordedPIDs of an older state file: %v, %v; want orderer0's bare PID 4242", got, err)
	}
	if _, err := RecordedPIDs([]byte("{not json")); err == nil {
		t.Error("RecordedPIDs of a damaged file: no error")
	}
}

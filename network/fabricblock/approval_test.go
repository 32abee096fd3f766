package fabricblock

import (
	"strings"
	"testing"
)

// Reordering one call's ApprovedFields leaves the next call Fabric's
// order of the approved fields.
func TestApprovedFieldsIsANewSliceEachCall(t *testing.T) {
	fields := ApprovedFields()
	fields[0], fields[2] = fields[2], fields[0]
	if again := strings.Join(ApprovedFields(), " "); again != "EndorsementInfo ValidationInfo Collections" {
		t.Errorf("a caller's change to ApprovedFields' slice shows in the next call: %s", again)
	}
}

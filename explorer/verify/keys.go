package verify

import (
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/votechain/votechain/ballot"
)

// ReadKeys reads log keys from a file: the ledger's record as GetLogKeys
// returns it ({"keys":[...]}), or Ed25519 public keys, 64 hex each, one a
// line.
func ReadKeys(path string) (ballot.LogKeys, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return ballot.LogKeys{}, err
	}
	noKey := fmt.Errorf("%s holds no log key: want the ledger's GetLogKeys record {\"keys\":[...]} or one 64-hex public key a line", path)
	var keys ballot.LogKeys
	if json.Unmarshal(data, &keys) == nil {
		if len(keys.Keys) == 0 {
			return ballot.LogKeys{}, noKey
		}
		return keys, nil
	}
	var pubs []ballot.LogKey
	for _, line := range strings.Fields(string(data)) {
		raw, err := hex.DecodeString(line)
		if err != nil || len(raw) != ed25519.PublicKeySize {
			return ballot.LogKeys{}, fmt.Errorf("%s: want {\"keys\":[...]} or one 64-hex public key a line", path)
		}
		pubs = append(pubs, ballot.NewLogKey(raw))
	}
	if len(pubs) == 0 {
		return ballot.LogKeys{}, noKey
	}
	keys, _, err = ballot.LogKeys{}.Register(pubs, 0)
	if err != nil {
		return ballot.LogKeys{}, fmt.Errorf("%s: %w", path, err)
	}
	return keys, nil
}

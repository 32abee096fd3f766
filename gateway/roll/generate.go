package roll

import (
	"bufio"
	"encoding/binary"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
)

// Generate writes a synthetic roll of n voters spread round-robin over
// states: voter ids "V000000001"..., 128-bit credentials from a ChaCha8
// stream seeded by seed, so a benchmark can regenerate the same roll and
// know every voter's credential. p, if set, is told of the rows written.
func Generate(w io.Writer, n int, states []string, seed uint64, p Progress) error {
	if len(states) == 0 {
		return errors.New("roll: generate: no states")
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	cw := csv.NewWriter(bw)
	if err := cw.Write(Header); err != nil {
		return fmt.Errorf("roll: generate: %w", err)
	}
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:8], seed)
	rng := rand.NewChaCha8(s)
	var cred [16]byte
	row := make([]string, 3)
	for i := range n {
		_, _ = rng.Read(cred[:]) // never fails
		row[0], row[1], row[2] = VoterID(i), hex.EncodeToString(cred[:]), states[i%len(states)]
		if err := cw.Write(row); err != nil {
			return fmt.Errorf("roll: generate: %w", err)
		}
		if i%1024 == 1023 {
			report(p, 1024)
		}
	}
	report(p, int64(n%1024))
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("roll: generate: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("roll: generate: %w", err)
	}
	return nil
}

// VoterID is the synthetic voter id of row i.
func VoterID(i int) string { return fmt.Sprintf("V%09d", i+1) }

package roll

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
)

// CredentialBytes is the size of a generated credential: 128 bits from
// crypto/rand, so credentials can neither be guessed nor regenerated.
const CredentialBytes = 16

// NewCredential returns a fresh credential: CredentialBytes from
// crypto/rand, hex-encoded.
func NewCredential() (string, error) {
	var b [CredentialBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("credential: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// Generate writes a synthetic roll of n voters spread round-robin over
// states: voter ids "V000000001"..., each with a NewCredential. The CSV is
// the only copy of the credentials: write it to a file only its owner can
// read (mode 0600). p, if set, is told of the rows written. Once ctx ends
// it stops within checkEvery rows, returning an error that wraps ctx's and
// counts the voters written: what w holds then is an incomplete roll.
func Generate(ctx context.Context, w io.Writer, n int, states []string, p Progress) error {
	if len(states) == 0 {
		return errors.New("no states to spread the voters over")
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	cw := csv.NewWriter(bw)
	flush := func() error {
		if cw.Flush(); cw.Error() != nil {
			return cw.Error()
		}
		return bw.Flush()
	}
	if err := cw.Write(Header()); err != nil {
		return err
	}
	row := make([]string, 3)
	for i := range n {
		cred, err := NewCredential()
		if err != nil {
			return err
		}
		row[0], row[1], row[2] = VoterID(i), cred, states[i%len(states)]
		if err := cw.Write(row); err != nil {
			return err
		}
		if done := i + 1; done%checkEvery == 0 {
			report(p, checkEvery)
			if err := ctx.Err(); err != nil {
				return errors.Join(fmt.Errorf("stopped with %d of %d voters written: %w", done, n, err), flush())
			}
		}
	}
	report(p, int64(n%checkEvery))
	return flush()
}

// VoterID is the synthetic voter id of row i.
func VoterID(i int) string { return fmt.Sprintf("V%09d", i+1) }

package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"syscall"
)

// maxErrorSamples is how many failures' words a phase keeps
// (Phase.ErrorSamples).
const maxErrorSamples = 3

// errorSample is the words of a failed request, with its kind.
type errorSample struct {
	kind failureKind
	text string
}

// failureKind sorts a failed request without wording its error: the status
// of an answer not among the expected ones (0: none came) and the transport
// error's cause. A worker words the first failure of each kind only, so a
// storm of one failure (refused connections at 10,000 requests/s) costs no
// allocation after its first.
type failureKind struct {
	code  int
	cause failureCause
}

// failureCause is what a transport error says went wrong.
type failureCause uint8

const (
	causeNone       failureCause = iota // no error: an unexpected status
	causeOther                          // an error none of the below
	causeRefused                        // connection refused
	causeReset                          // connection reset by the peer
	causeBrokenPipe                     // written after the peer closed
	causeTimeout                        // the request's deadline passed
	causeNoAnswer                       // closed before any byte of the answer (errNoAnswer)
	causeEOF                            // closed in the middle of the answer
)

// causeOf sorts err without wording it, and without allocating.
func causeOf(err error) failureCause {
	switch {
	case err == nil:
		return causeNone
	case errors.Is(err, syscall.ECONNREFUSED):
		return causeRefused
	case errors.Is(err, syscall.ECONNRESET):
		return causeReset
	case errors.Is(err, syscall.EPIPE):
		return causeBrokenPipe
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded): // a read's deadline; a dial's
		return causeTimeout
	case errors.Is(err, errNoAnswer):
		return causeNoAnswer
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return causeEOF
	}
	return causeOther
}

// sampleError keeps the words of a failed request (its error, else its
// status) unless the tally holds maxErrorSamples already or one of the
// same kind.
func (t *tally) sampleError(code int, err error) {
	if len(t.errorSamples) >= maxErrorSamples {
		return
	}
	kind := failureKind{code, causeOf(err)}
	for _, s := range t.errorSamples {
		if s.kind == kind {
			return
		}
	}
	text := fmt.Sprintf("%d %s", code, http.StatusText(code))
	if err != nil {
		text = err.Error()
	}
	t.errorSamples = append(t.errorSamples, errorSample{kind, text})
}

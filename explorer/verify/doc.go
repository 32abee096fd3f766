// Package verify is the checking behind the verify command: voters' and
// auditors' receipts, signed acceptance receipts and the intake logs,
// checked against the ledger read through a peer.
//
//   - Receipts (CheckReceipts, with a Checker): each vote hashes to its
//     receipt's leaf, the Merkle proof leads to the root, and the root and
//     transaction are those of the batch record on the ledger. A receipt
//     of a vote rejected as a duplicate says where the ledger counted its
//     nullifier: the same vote id is a re-send (PASS), another is
//     DUPLICATE. A receipt whose block the peer has not reached is
//     PENDING once the Checker's wait (30 s over all receipts) is up.
//   - Acceptance receipts (CheckAcceptances): the head is signed by a log
//     key and the vote's proof leads to its root; against the ledger,
//     where the vote stands (COUNTED, REJECTED, DUPLICATE, PENDING,
//     MISSING) and, with the gateway's consistency proofs, whether the
//     receipt's head and the anchored one are of one log (FORK,
//     BAD-PROOF, UNCHECKED). Without a ledger a receipt is VALID or FAILs.
//   - Intake logs (MonitorLog): the logmonitor's check of every log
//     against the ledger, with the heads seen before (LogState), printed
//     as verify --log prints it.
//
// Each check prints one line a receipt (or a log's state) on the io.Writer
// it is given, and the package prints nowhere else; it reads the
// io.Readers it is given (ReadJSON) and the files it is named (the keys of
// ReadKeys, the heads of ReadLogState, which LogState saves). A check
// returns its Outcomes, every receipt counted in one outcome; a FAIL,
// FORK, BAD-PROOF, MISSING or UNLOGGED is a failure, found by the check,
// not an error. An error (a ledger that cannot be read, the context ended)
// stops a check and is returned with the Outcomes found before it: check
// the error first, since a check stopped before any finding returns
// Outcomes{}, which reads Passed. Outcomes.Verdict is what a check's
// outcomes come to, the gravest finding (Failed, Unchecked, Duplicate,
// Pending, else Passed); the command maps verdicts, and the errors and
// signals that stop a run, to its exit statuses.
//
// The package prints the findings' lines, worded for verify's users
// (their advice names its flags: --peer, --gateway, --log-state); its
// errors say what is wrong in its own terms (a *LogStateError of the
// heads' file, a *PeerDownError of a peer that stopped answering), for
// the command to add its flags' advice. The end of a run, its context's
// cause (a time limit, a signal), is left for the caller to word.
// Progress, where a check draws it, goes to the Progress or Bars it is
// given: the package imports no command-line code.
//
// Every call that reads the ledger or a gateway takes a context; the
// ledger is an already-dialled connection, or anything with the small
// interface a check names (BatchRecords, StandingLedger).
package verify

package ballot

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// The intake log: every vote a gateway accepts becomes, in the same atomic
// Redis call that makes it durable, the next leaf of its state's append-only
// RFC 6962 log (LogTree; the leaf is Vote.Leaf, the same leaf as in a
// batch). A signer publishes a signed tree head (TreeHead) of each state's
// log, and the heads are anchored on the ledger (LogAnchor), where each new
// head must extend the last anchored one (a consistency proof). A voter's
// acceptance receipt (Acceptance) proves the vote is in the log under a
// signed head; a monitor checks that every entry of the log up to the last
// anchored head is on the ledger (EntryStanding).

// Errors returned (wrapped) by the tree head and acceptance checks.
var (
	ErrUnknownLogKey = errors.New("ballot: tree head signed by a key not registered on the ledger")
	ErrBadSignature  = errors.New("ballot: tree head signature does not verify")
	ErrBadAcceptance = errors.New("ballot: acceptance receipt does not hold together")
	// ErrBadHead: a tree head not of the form Validate checks (its
	// election, state, root or signature malformed), so that its
	// signature cannot even be checked. A head that holds it was not
	// signed by a log signer, as one that fails ErrBadSignature was not.
	ErrBadHead = errors.New("ballot: malformed tree head")
	// ErrHeadConflict: a head to anchor does not extend its state's
	// anchored head as its consistency proof claims (LogAnchor.Check). It
	// is what a signer sees when another signer anchored a head of the
	// state after it read the anchored one (its proof starts from that
	// older head), and also what a log rewritten under its anchored head
	// gives: only the signer can tell them apart, by reading the anchored
	// head again. Its text carries HeadConflictMark, so the chaincode's
	// refusal says it across the process boundary (IsHeadConflict).
	ErrHeadConflict = errors.New(HeadConflictMark + " ballot: the head does not extend its state's anchored head")
	// ErrHeadStale: a head to anchor is stamped before its state's
	// anchored head (LogAnchor.Check). It is what a signer whose clock is
	// behind the anchored head's signer sees; it signs the head again,
	// stamped no earlier than the anchored head. Its text carries
	// HeadStaleMark, so the chaincode's refusal says it across the process
	// boundary (IsHeadStale).
	ErrHeadStale = errors.New(HeadStaleMark + " ballot: the head is stamped before its state's anchored head")
	// ErrHeadFromFuture: a head to anchor is stamped more than MaxClockSkew
	// after the anchoring transaction's time (LogAnchor.Check).
	ErrHeadFromFuture = errors.New("ballot: the head is stamped too far after the transaction's time")
)

// MaxClockSkew is how far the ledger lets a client's clock run ahead of
// its transaction's time: a head may be stamped at most this long after
// the transaction that anchors it (LogAnchor.Check). The chaincode's
// MaxClockSkew, the bound between a proposal's time and a peer's clock, is
// this value.
const MaxClockSkew = 2 * time.Minute

// HeadConflictMark is in the message of every error wrapping
// ErrHeadConflict. A chaincode error reaches a client only as message text,
// so, as NotFoundMark, it is the contract between them: the client finds
// it with IsHeadConflict and answers an error wrapping ErrHeadConflict.
const HeadConflictMark = "[head-conflict]"

// IsHeadConflict reports whether a message from the chaincode, however
// wrapped, says ErrHeadConflict.
func IsHeadConflict(message string) bool { return strings.Contains(message, HeadConflictMark) }

// HeadStaleMark is in the message of every error wrapping ErrHeadStale,
// the contract between the chaincode and its clients as HeadConflictMark.
const HeadStaleMark = "[head-stale]"

// IsHeadStale reports whether a message from the chaincode, however
// wrapped, says ErrHeadStale.
func IsHeadStale(message string) bool { return strings.Contains(message, HeadStaleMark) }

// UnknownLogKeyMark is in the chaincode's refusal of a head signed by a
// key not registered on the ledger (ErrUnknownLogKey), the contract
// between the chaincode and its clients as HeadConflictMark. The
// chaincode adds it to the refusal; ErrUnknownLogKey's own text, which
// the verifiers report, does not carry it.
const UnknownLogKeyMark = "[unknown-log-key]"

// IsUnknownLogKey reports whether a message from the chaincode, however
// wrapped, says ErrUnknownLogKey.
func IsUnknownLogKey(message string) bool { return strings.Contains(message, UnknownLogKeyMark) }

// ErrClockSkew: the ledger refuses a transaction whose time (the
// submitting client's clock) is more than MaxClockSkew from the endorsing
// peer's clock, whatever the transaction. Its text carries ClockSkewMark,
// so the chaincode's refusal says it across the process boundary
// (IsClockSkew): the client's clock is to be fixed, nothing in the
// transaction.
var ErrClockSkew = errors.New(ClockSkewMark + " ballot: the transaction's time is more than the allowed skew from the peer's clock")

// ClockSkewMark is in the message of every error wrapping ErrClockSkew,
// the contract between the chaincode and its clients as HeadConflictMark.
const ClockSkewMark = "[clock-skew]"

// IsClockSkew reports whether a message from the chaincode, however
// wrapped, says ErrClockSkew.
func IsClockSkew(message string) bool { return strings.Contains(message, ClockSkewMark) }

// ClockSkewAdvice is the advice, shared by every log line and error that
// reports a refusal of this machine's clock (ErrClockSkew), on what the
// ledger bounds and how to fix it: the two bounds a client's clock must
// keep to the peers' (MaxClockSkew, the chaincode's, and the peers'
// peer.authentication.timewindow, checked before the chaincode runs) and
// the fix, comparing the clock of "here", the machine that reports it,
// with a peer's, and NTPFix for the one that is off. It is one sentence
// beginning with a capital and without its final period, to follow the
// caller's own sentence on what was refused and what happens until the
// clock is fixed, and to be ended or continued by the caller.
func ClockSkewAdvice() string {
	return "A transaction's time must be within " + MaxClockSkew.String() +
		" (the chaincode's max_skew) of a peer's clock and within the peer's peer.authentication.timewindow (15m in Fabric's sample core.yaml): " +
		"compare `chronyc tracking` or `timedatectl` here and on a peer, and on the machine whose clock is off " + NTPFix
}

// NTPFix is the operator's fix for a machine whose clock is off, to follow
// "on the machine whose clock is off": nothing corrects the clock until NTP
// runs there; and where NTP runs and says it is synchronized while the
// clocks still differ, what to compare: the time sources of both
// machines. Every message and runbook that reports a clock off says it
// (the runbooks in config/prometheus/alerts.yml with the commands in
// backquotes, which internal/monitor's tests check).
const NTPFix = "check NTP with timedatectl (System clock synchronized: yes, NTP service: active) and turn it on if it is off (sudo timedatectl set-ntp true; with chrony, sudo chronyc makestep corrects a large offset at once instead of slewing it for minutes): the clock stays off until that is done; if NTP is on and synchronized while the clocks still differ, compare chronyc sources or timedatectl timesync-status on both machines (they may follow different time servers, or a faulty one)"

const (
	treeHeadDomain = "votechain/treehead/v1"
	logKeyDomain   = "votechain/logkey/v1"
)

// LogKey is a registered public key of an intake log signer.
type LogKey struct {
	ID        string `json:"id"`         // LogKeyID of the public key
	PublicKey string `json:"public_key"` // Ed25519, 64 lowercase hex
	// RegisteredAt is the registering transaction's time (Unix ms), set by
	// the chaincode.
	RegisteredAt int64 `json:"registered_at,omitempty"`
}

// LogKeys is the ledger's record of the registered log keys
// (RegisterLogKeys adds to it, GetLogKeys returns it).
type LogKeys struct {
	Keys []LogKey `json:"keys"`
}

// LogKeyID names a public key: the first 8 bytes of
// SHA-256("votechain/logkey/v1" ‖ key), as 16 lowercase hex.
func LogKeyID(pub ed25519.PublicKey) string {
	h := sha256.Sum256(append([]byte(logKeyDomain), pub...))
	return hex.EncodeToString(h[:8])
}

// NewLogKey describes a public key for registration.
func NewLogKey(pub ed25519.PublicKey) LogKey {
	return LogKey{ID: LogKeyID(pub), PublicKey: hex.EncodeToString(pub)}
}

// Public returns the key, checking that it is well-formed and that its id
// is its own.
func (k LogKey) Public() (ed25519.PublicKey, error) {
	raw, err := hex.DecodeString(k.PublicKey)
	if err != nil || len(raw) != ed25519.PublicKeySize || k.PublicKey != hex.EncodeToString(raw) {
		return nil, fmt.Errorf("ballot: log key %q: public_key must be %d lowercase hex characters", truncate(k.ID), 2*ed25519.PublicKeySize)
	}
	if id := LogKeyID(raw); id != k.ID {
		return nil, fmt.Errorf("ballot: log key id %q is not its key's id %s", truncate(k.ID), id)
	}
	return raw, nil
}

// Find returns the registered key of id.
func (ks LogKeys) Find(id string) (LogKey, bool) {
	for _, k := range ks.Keys {
		if k.ID == id {
			return k, true
		}
	}
	return LogKey{}, false
}

// Register adds keys not yet registered, stamped at (Unix ms), and returns
// the new record and how many it added. A key already registered is left as
// it was; every key must be well-formed.
func (ks LogKeys) Register(keys []LogKey, at int64) (LogKeys, int, error) {
	if len(keys) == 0 || len(keys) > 64 {
		return ks, 0, errors.New("ballot: register 1..64 log keys at a time")
	}
	out := LogKeys{Keys: append([]LogKey(nil), ks.Keys...)}
	added := 0
	for _, k := range keys {
		if _, err := k.Public(); err != nil {
			return ks, 0, err
		}
		if _, ok := out.Find(k.ID); ok {
			continue
		}
		k.RegisteredAt = at
		out.Keys = append(out.Keys, k)
		added++
	}
	if len(out.Keys) > 256 {
		return ks, 0, errors.New("ballot: at most 256 log keys per election")
	}
	return out, added, nil
}

// TreeHead is a signed tree head of one state's intake log: the log held
// Size entries with root Root at Timestamp, says the holder of key KeyID.
type TreeHead struct {
	Election  string `json:"election"`  // the election record's id
	State     string `json:"state"`     // the log's state
	Size      uint64 `json:"size"`      // entries in the log
	Root      string `json:"root"`      // RFC 6962 root of those entries, 64 hex
	Timestamp int64  `json:"timestamp"` // Unix ms, the signer's clock
	KeyID     string `json:"key_id"`    // LogKeyID of the signing key
	Signature string `json:"signature"` // Ed25519 over SignedBytes, 128 hex
}

// SignedBytes is the canonical encoding the signature covers:
// "votechain/treehead/v1", then lp(election), lp(state), size as uint64,
// the 32 root bytes, timestamp as int64 and lp(key id), where lp(x) is x's
// length as 4 big-endian bytes followed by x and integers are big-endian.
func (h TreeHead) SignedBytes() ([]byte, error) {
	root, err := ParseHash(h.Root)
	if err != nil {
		return nil, fmt.Errorf("ballot: tree head root: %w", err)
	}
	out := []byte(treeHeadDomain)
	lp := func(s string) {
		out = binary.BigEndian.AppendUint32(out, uint32(len(s)))
		out = append(out, s...)
	}
	lp(h.Election)
	lp(h.State)
	out = binary.BigEndian.AppendUint64(out, h.Size)
	out = append(out, root[:]...)
	out = binary.BigEndian.AppendUint64(out, uint64(h.Timestamp))
	lp(h.KeyID)
	return out, nil
}

// Sign returns the head signed with priv (KeyID set to its key's id).
func (h TreeHead) Sign(priv ed25519.PrivateKey) (TreeHead, error) {
	h.KeyID = LogKeyID(priv.Public().(ed25519.PublicKey))
	msg, err := h.SignedBytes()
	if err != nil {
		return TreeHead{}, err
	}
	h.Signature = hex.EncodeToString(ed25519.Sign(priv, msg))
	return h, nil
}

// Validate checks the head's form: a valid state, a root of 64 lowercase
// hex (of size 0, the empty tree's root: SHA-256 of the empty string, RFC
// 6962), an election id of 1..64 characters, a signature of 128 lowercase
// hex. Its error wraps ErrBadHead.
func (h TreeHead) Validate() error {
	switch {
	case h.Election == "" || len(h.Election) > 64:
		return fmt.Errorf("%w: election %q must be 1..64 characters", ErrBadHead, truncate(h.Election))
	case !ValidState(h.State):
		return fmt.Errorf("%w: state %q must be 2..8 characters of [A-Z0-9]", ErrBadHead, truncate(h.State))
	case !isLowerHex(h.Root, 64):
		return fmt.Errorf("%w: root %q is not 64 lowercase hex characters", ErrBadHead, truncate(h.Root))
	case h.Size == 0 && h.Root != HashHex(emptyRoot):
		return fmt.Errorf("%w: a head of size 0 with root %.16s…, not the empty tree's", ErrBadHead, h.Root)
	case !isLowerHex(h.Signature, 2*ed25519.SignatureSize):
		return fmt.Errorf("%w: signature is not %d lowercase hex characters", ErrBadHead, 2*ed25519.SignatureSize)
	}
	return nil
}

// Verify checks the head's form and its signature by a key registered in
// keys. The error wraps ErrBadHead (Validate), ErrUnknownLogKey or
// ErrBadSignature when that is the reason.
func (h TreeHead) Verify(keys LogKeys) error {
	if err := h.Validate(); err != nil {
		return err
	}
	k, ok := keys.Find(h.KeyID)
	if !ok {
		return fmt.Errorf("%w: key id %q", ErrUnknownLogKey, truncate(h.KeyID))
	}
	pub, err := k.Public()
	if err != nil {
		return err
	}
	msg, err := h.SignedBytes()
	if err != nil {
		return err
	}
	sig, _ := hex.DecodeString(h.Signature)
	if !ed25519.Verify(pub, msg, sig) {
		return fmt.Errorf("%w: %s head of size %d by key %s", ErrBadSignature, h.State, h.Size, h.KeyID)
	}
	return nil
}

// Extends checks that h's log extends prev's (the same election and state,
// not smaller, and the consistency proof from prev's root to h's).
func (h TreeHead) Extends(prev TreeHead, proof [][32]byte) error {
	if h.Election != prev.Election || h.State != prev.State {
		return fmt.Errorf("ballot: head of %s/%s cannot extend one of %s/%s", h.Election, h.State, prev.Election, prev.State)
	}
	oldRoot, err := ParseHash(prev.Root)
	if err != nil {
		return err
	}
	root, err := ParseHash(h.Root)
	if err != nil {
		return err
	}
	if err := VerifyConsistency(prev.Size, h.Size, oldRoot, root, proof); err != nil {
		return fmt.Errorf("%s log of size %d does not extend the one of size %d: %w", h.State, h.Size, prev.Size, err)
	}
	return nil
}

// LogAnchor is one head to anchor on the ledger with the consistency proof
// from the head anchored before it for its state (none for the first).
type LogAnchor struct {
	Head        TreeHead `json:"head"`
	Consistency []string `json:"consistency"` // hex hashes
}

// AnchoredHead is the ledger's record of a state's last anchored head.
type AnchoredHead struct {
	Head       TreeHead `json:"head"`
	TxID       string   `json:"tx_id"`
	AnchoredAt int64    `json:"anchored_at"` // the transaction's time, Unix ms
}

// LogKeysInput is the argument of the chaincode's RegisterLogKeys
// (JSON {"keys":[…]}).
type LogKeysInput struct {
	Keys []LogKey `json:"keys"`
}

// LogAnchorsInput is the argument of the chaincode's AnchorLogHeads
// (JSON {"heads":[…]}, at most one head per state).
type LogAnchorsInput struct {
	Heads []LogAnchor `json:"heads"`
}

// Anchor decides what an AnchorLogHeads transaction txID of time at (Unix
// ms) writes in election e with the registered keys, prev giving each
// state's anchored head (the zero record when none is): the record of
// every head that passes LogAnchor.Check and is no repeat of its state's
// anchored head, in the input's order. Any failing head, or two heads of
// one state, fails the whole transaction. The chaincode writes what it
// returns; an auditor recomputes it from the transaction's argument.
func (in LogAnchorsInput) Anchor(e *Election, keys LogKeys, prev func(state string) (AnchoredHead, error), txID string, at int64) ([]AnchoredHead, error) {
	if len(in.Heads) == 0 {
		return nil, errors.New("no head to anchor")
	}
	seen := map[string]bool{}
	written := []AnchoredHead{}
	for _, a := range in.Heads {
		st := a.Head.State
		if seen[st] {
			return nil, fmt.Errorf("two heads of %s in one transaction", truncate(st))
		}
		seen[st] = true
		p, err := prev(st)
		if err != nil {
			return nil, err
		}
		changed, err := a.Check(e, keys, p.Head, at)
		if err != nil {
			return nil, fmt.Errorf("head of %s, size %d: %w", truncate(st), a.Head.Size, err)
		}
		if changed {
			written = append(written, AnchoredHead{Head: a.Head, TxID: txID, AnchoredAt: at})
		}
	}
	return written, nil
}

// Acceptance is a signed acceptance receipt: the accepted vote, its index
// in its state's intake log, the audit path to the root of a signed tree
// head that covers it. With a registered log key it verifies offline.
type Acceptance struct {
	VoteID string   `json:"vote_id"`
	Vote   Vote     `json:"vote"`
	Index  uint64   `json:"index"` // leaf index in the state's log
	Leaf   string   `json:"leaf"`  // Vote.Leaf, hex
	Proof  []string `json:"proof"` // audit path to Head.Root, leaf side first
	Head   TreeHead `json:"head"`
}

// Verify checks everything the receipt itself can show: the vote has the
// receipt's id and the head's state and hashes to the leaf, the audit path
// leads from the leaf at Index to the head's root, and the head is signed
// by a key in keys. The error wraps ErrBadAcceptance, ErrUnknownLogKey or
// ErrBadSignature, and the inclusion errors.
func (a Acceptance) Verify(keys LogKeys) error {
	leaf, err := a.Vote.Leaf()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadAcceptance, err)
	}
	switch {
	case a.Vote.ID != a.VoteID:
		return fmt.Errorf("%w: the vote's id %s is not the receipt's %s", ErrBadAcceptance, a.Vote.ID, truncate(a.VoteID))
	case a.Vote.State != a.Head.State:
		return fmt.Errorf("%w: a %s vote under a head of the %s log", ErrBadAcceptance, a.Vote.State, truncate(a.Head.State))
	case HashHex(leaf) != a.Leaf:
		return fmt.Errorf("%w: the vote hashes to %x, not to the receipt's leaf", ErrBadAcceptance, leaf)
	case a.Head.Size > 1<<62 || a.Index >= a.Head.Size:
		return fmt.Errorf("%w: index %d, head size %d", ErrIndexOutOfRange, a.Index, a.Head.Size)
	}
	if err := a.Head.Verify(keys); err != nil {
		return err
	}
	proof, err := parseHashes(a.Proof)
	if err != nil {
		return fmt.Errorf("%w: proof: %w", ErrBadAcceptance, err)
	}
	root, _ := ParseHash(a.Head.Root) // Verify checked its form
	return VerifyInclusion(leaf, int(a.Index), int(a.Head.Size), proof, root)
}

// ParseHashes decodes hex hashes.
func ParseHashes(hexes []string) ([][32]byte, error) { return parseHashes(hexes) }

func parseHashes(hexes []string) ([][32]byte, error) {
	out := make([][32]byte, len(hexes))
	for i, s := range hexes {
		h, err := ParseHash(s)
		if err != nil {
			return nil, fmt.Errorf("hash %d: %w", i, err)
		}
		out[i] = h
	}
	return out, nil
}

// HexHashes encodes hashes as lowercase hex.
func HexHashes(hs [][32]byte) []string { return hexHashes(hs) }

// Standings of an accepted vote (a log entry) against the ledger.
const (
	StandingCounted  = "counted"  // on the ledger, counted
	StandingRejected = "rejected" // on the ledger, rejected with a reason
	StandingPending  = "pending"  // not on the ledger yet, within the deadline
	StandingMissing  = "MISSING"  // not on the ledger past the deadline: evidence of omission
)

// EntryStanding decides where an accepted vote stands. placed says whether
// the ledger holds it, with status its receipt status there (ReceiptCounted,
// ReceiptDuplicate or ReceiptRejected). A vote the ledger does not hold is
// pending until castAt + deadline and MISSING from then on, or at once when
// final is set (the election is finalised, or its last head must be fully
// accounted for).
func EntryStanding(placed bool, status string, castAt int64, now time.Time, deadline time.Duration, final bool) string {
	switch {
	case placed && status == ReceiptCounted:
		return StandingCounted
	case placed:
		return StandingRejected
	case !final && now.Before(time.UnixMilli(castAt).Add(deadline)):
		return StandingPending
	}
	return StandingMissing
}

// EntryLeaf is the leaf hash of a log entry (an encoded vote):
// SHA-256(0x00 ‖ entry), which is Vote.Leaf of the vote it encodes.
func EntryLeaf(entry []byte) [32]byte {
	h := sha256.New()
	h.Write([]byte{leafPrefix})
	h.Write(entry)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// LogEntries pairs a state's log entries (encoded votes, Vote.Encode) with
// their leaves, checking that each decodes and that the first size of them
// give root: the check a monitor makes before trusting entries it was
// served against a signed or anchored head.
func LogEntries(entries [][]byte, size uint64, root [32]byte) ([]Vote, *LogTree, error) {
	if uint64(len(entries)) < size {
		return nil, nil, fmt.Errorf("%w: %d entries for a head of size %d", ErrSizeOutOfRange, len(entries), size)
	}
	votes, leaves, err := DecodeLogEntries(entries[:size])
	if err != nil {
		return nil, nil, err
	}
	var t LogTree
	for _, l := range leaves {
		t.Append(l)
	}
	got, _ := t.Root(size)
	if got != root {
		return nil, nil, fmt.Errorf("%w: the %d entries give root %x, the head says %x", ErrRootMismatch, size, got, root)
	}
	return votes, &t, nil
}

// DecodeLogEntries decodes log entries (encoded votes) and hashes their
// leaves (EntryLeaf), for a monitor that extends a tree it verified before;
// the caller checks the root.
func DecodeLogEntries(entries [][]byte) ([]Vote, [][32]byte, error) {
	votes := make([]Vote, len(entries))
	leaves := make([][32]byte, len(entries))
	for i, e := range entries {
		v, err := DecodeVote(e)
		if err != nil {
			return nil, nil, fmt.Errorf("log entry %d: %w", i, err)
		}
		votes[i], leaves[i] = v, EntryLeaf(e)
	}
	return votes, leaves, nil
}

// Ledger keys of the intake log (see keys.go).
const (
	// LogKeysKey holds the LogKeys record.
	LogKeysKey = "\x00logkeys\x00"
	// LogHeadObject is the composite-key object type of anchored heads.
	LogHeadObject = "loghead"
)

// LogHeadKey is the ledger key of a state's last anchored head
// (AnchoredHead): object "loghead", attribute [state].
func LogHeadKey(state string) string { return compositeKey(LogHeadObject, state) }

// ParseLogHeadKey returns the state of a key built by LogHeadKey. It
// allocates nothing, so an auditor may ask it of every key a block writes.
func ParseLogHeadKey(key string) (state string, ok bool) {
	rest, ok := strings.CutPrefix(key, compositeSep+LogHeadObject+compositeSep)
	if !ok {
		return "", false
	}
	state, ok = strings.CutSuffix(rest, compositeSep)
	return state, ok && state != "" && !strings.Contains(state, compositeSep)
}

// Check decides whether the ledger may anchor a as the next head of its
// state after prev (the state's anchored head; the zero TreeHead when there
// is none) in a transaction of time at (Unix ms), in election e with the
// registered keys: the head is of this election and one of its states,
// signed by a registered key, its log extends prev's (the consistency
// proof; the error of a head that does not wraps ErrHeadConflict), it is
// stamped no earlier than prev (else ErrHeadStale) and at most
// MaxClockSkew after at (else ErrHeadFromFuture). It reports false, with
// no error, for a repeat of prev (the same size and root, whatever its
// stamp).
func (a LogAnchor) Check(e *Election, keys LogKeys, prev TreeHead, at int64) (bool, error) {
	h := a.Head
	switch {
	case h.Election != e.ID:
		return false, fmt.Errorf("ballot: a head of election %q, not %q", truncate(h.Election), e.ID)
	case !e.HasState(h.State):
		return false, fmt.Errorf("ballot: state %q is not in this election", truncate(h.State))
	case len(a.Consistency) > 64:
		return false, fmt.Errorf("%w: %d hashes", ErrConsistencyProofSz, len(a.Consistency))
	}
	if err := h.Verify(keys); err != nil {
		return false, err
	}
	if prev.Size == h.Size && prev.Root == h.Root {
		return false, nil
	}
	if h.Timestamp > at+MaxClockSkew.Milliseconds() {
		return false, fmt.Errorf("%w: the %s head is stamped %d, more than %s after the transaction's %d (check the signer's clock)",
			ErrHeadFromFuture, h.State, h.Timestamp, MaxClockSkew, at)
	}
	proof, err := parseHashes(a.Consistency)
	if err != nil {
		return false, fmt.Errorf("%w: %w", ErrConsistencyProof, err)
	}
	if prev == (TreeHead{}) { // none anchored: the head extends the empty log
		prev = TreeHead{Election: h.Election, State: h.State, Root: HashHex(emptyRoot)}
	}
	if err := h.Extends(prev, proof); err != nil {
		return false, fmt.Errorf("%w: %w", ErrHeadConflict, err)
	}
	if h.Timestamp < prev.Timestamp {
		return false, fmt.Errorf("%w: the %s head is stamped %d, the anchored one %d", ErrHeadStale, h.State, h.Timestamp, prev.Timestamp)
	}
	return true, nil
}

// Unaccounted is how many of the votes an anchored head says its state
// accepted cannot be on the ledger, given the state's batch totals: every
// accepted vote is in some batch (counted or rejected), so fewer votes in
// the state's batches than the head's size prove that many missing. A
// vote batched twice counts twice, so 0 does not prove none is missing
// (the log monitor checks each entry).
func (h AnchoredHead) Unaccounted(sr StateResult) uint64 {
	onLedger := sr.Totals().Votes
	if h.Head.Size <= onLedger {
		return 0
	}
	return h.Head.Size - onLedger
}

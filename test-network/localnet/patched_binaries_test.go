package localnet_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/votechain/votechain/test-network/nettest"
)

// TestPeerUUIDFormatPatched shows that the Fabric build carries
// network/fabricbin/patches/uuid-format.patch (docs/ledger.md): in the peer
// binary's machine code, read with go tool objdump, Fabric's
// common/util.idBytesToStr calls no fmt.Sprintf, as Fabric's own does.
// The strings it makes are the same (the patch's own test checks that).
func TestPeerUUIDFormatPatched(t *testing.T) {
	nettest.Integration(t)
	const fn = "github.com/hyperledger/fabric/common/util.idBytesToStr"
	for _, call := range objdumpCalls(t, fabricCommand(t, "peer"), fn) {
		if strings.Contains(call, "fmt.Sprintf") {
			t.Fatalf("%s calls fmt.Sprintf: bin/fabric was built without network/fabricbin/patches/uuid-format.patch (run make fabric-bin)\n%s", fn, call)
		}
	}
}

// TestPeerLockProfilesPatched shows that the Fabric build carries
// network/fabricbin/patches/lock-profiles.patch (docs/ledger.md): the peer
// turns its mutex and block profiles on when its environment asks, says so,
// names a value it ignores, and says nothing without the variables.
func TestPeerLockProfilesPatched(t *testing.T) {
	nettest.Integration(t)
	peer := fabricCommand(t, "peer")
	run := func(env ...string) string {
		t.Helper()
		cmd := exec.Command(peer, "version")
		cmd.Env = append(cmd.Environ(), env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s version %v: %v\n%s", peer, env, err, out)
		}
		return string(out)
	}
	const missing = "bin/fabric was built without network/fabricbin/patches/lock-profiles.patch (run make fabric-bin)"
	out := run("VOTECHAIN_PEER_MUTEX_PROFILE_FRACTION=5", "VOTECHAIN_PEER_BLOCK_PROFILE_RATE=100000")
	for _, want := range []string{"mutex profile on, 1 contention event in 5 sampled", "block profile on, an event per 100000 ns blocked sampled"} {
		if !strings.Contains(out, want) {
			t.Errorf("peer version with both variables set did not say %q: %s\n%s", want, missing, out)
		}
	}
	if out := run("VOTECHAIN_PEER_MUTEX_PROFILE_FRACTION=often"); !strings.Contains(out, `VOTECHAIN_PEER_MUTEX_PROFILE_FRACTION="often" is not a positive integer`) {
		t.Errorf("peer version with a bad fraction did not name it: %s\n%s", missing, out)
	}
	if out := run("VOTECHAIN_PEER_MUTEX_PROFILE_FRACTION=", "VOTECHAIN_PEER_BLOCK_PROFILE_RATE="); strings.Contains(out, "lockprofile") {
		t.Errorf("peer version without the variables spoke of lock profiles:\n%s", out)
	}
}

// TestOrdererProposalDigestPatched shows that the Fabric build carries
// network/fabricbin/patches/SmartBFT/proposal-digest.patch (docs/ledger.md):
// in the orderer binary's machine code, SmartBFT's View collects a proposal's
// prepares and commits without computing its digest (types.Proposal.Digest)
// again, as SmartBFT's own does in both; it asks the view's remembered digest
// (proposalDigest). The patch's own test checks what proposalDigest returns.
func TestOrdererProposalDigestPatched(t *testing.T) {
	nettest.Integration(t)
	orderer := fabricCommand(t, "orderer")
	const view = "github.com/hyperledger-labs/SmartBFT/internal/bft.(*View)."
	for _, fn := range []string{view + "processPrepares", view + "processCommits"} {
		var remembered bool
		for _, call := range objdumpCalls(t, orderer, fn) {
			if strings.Contains(call, "types.Proposal.Digest") {
				t.Errorf("%s computes the proposal's digest: bin/fabric was built without network/fabricbin/patches/SmartBFT/proposal-digest.patch (run make fabric-bin)\n%s", fn, call)
			}
			remembered = remembered || strings.Contains(call, view+"proposalDigest")
		}
		if !remembered {
			t.Errorf("%s does not call %sproposalDigest: bin/fabric was built without network/fabricbin/patches/SmartBFT/proposal-digest.patch (run make fabric-bin)", fn, view)
		}
	}
}

// TestOrdererWALBufferAndLazyLogPatched shows that the Fabric build carries
// network/fabricbin/patches/SmartBFT/wal-buffer.patch and view-log-lazy.patch
// (docs/ledger.md, "The ledger's cost per block"): in the orderer binary's
// machine code, the write-ahead log's append takes the buffer it marshals a
// record into from marshalBuffer (the last record's) and makes none of its
// own, as SmartBFT's does for every record, and neither the controller nor
// the view formats each message it gets with MsgToString for a debug line
// that is not written. The patches' own tests check the records read back
// unchanged and the log text is the same.
func TestOrdererWALBufferAndLazyLogPatched(t *testing.T) {
	nettest.Integration(t)
	orderer := fabricCommand(t, "orderer")
	const bft = "github.com/hyperledger-labs/SmartBFT/internal/bft."
	for _, fn := range []string{bft + "(*Controller).ProcessMessages", bft + "(*View).processMsg"} {
		for _, call := range objdumpCalls(t, orderer, fn) {
			if strings.Contains(call, bft+"MsgToString(SB)") {
				t.Errorf("%s formats every message it gets: bin/fabric was built without network/fabricbin/patches/SmartBFT/view-log-lazy.patch (run make fabric-bin)\n%s", fn, call)
			}
		}
	}
	const wal = "github.com/hyperledger-labs/SmartBFT/pkg/wal.(*WriteAheadLogFile)."
	var reused bool
	for _, call := range objdumpCalls(t, orderer, wal+"append") {
		if strings.Contains(call, "runtime.makeslice(SB)") {
			t.Errorf("%sappend makes a new buffer for each record: bin/fabric was built without network/fabricbin/patches/SmartBFT/wal-buffer.patch (run make fabric-bin)\n%s", wal, call)
		}
		reused = reused || strings.Contains(call, wal+"marshalBuffer(SB)")
	}
	if !reused {
		t.Errorf("%sappend does not call marshalBuffer: bin/fabric was built without network/fabricbin/patches/SmartBFT/wal-buffer.patch (run make fabric-bin)", wal)
	}
}

// TestOrdererViewReplayPatched shows that the Fabric build carries
// network/fabricbin/patches/SmartBFT/view-replay.patch (docs/ledger.md,
// "SmartBFT under roll-sized load"): in the orderer binary's machine code,
// SmartBFT's controller keeps the view messages it gets for a view not
// running (ProcessMessages calls lateMessages.keepLocked), hands a starting
// view those of its number (startView calls takeLocked), and gives the view
// changer's in-flight view its own (takeLateMessages); SmartBFT's own has
// none of these. The patch's own tests check a follower entering a view late
// still prepares its leader's one pre-prepare, and an in-flight view started
// late still decides.
func TestOrdererViewReplayPatched(t *testing.T) {
	nettest.Integration(t)
	const bft = "github.com/hyperledger-labs/SmartBFT/internal/bft."
	take := []string{bft + "(*lateMessages).takeLocked(SB)", bft + "(*lateMessages).take(SB)"}
	requireCalls(t, "orderer", "SmartBFT/view-replay.patch", "", map[string][]string{
		bft + "(*Controller).ProcessMessages":  {bft + "(*lateMessages).keepLocked(SB)"},
		bft + "(*Controller).startView":        take,
		bft + "(*Controller).takeLateMessages": take,
	})
}

// TestOrdererSyncDecideRacePatched shows that the Fabric build carries
// network/fabricbin/patches/SmartBFT/sync-decide-race.patch (docs/ledger.md,
// "SmartBFT: a stall after a sync raced a decision"): in the orderer binary's
// machine code, SmartBFT's controller makes each decision its own channel
// (Decide calls makechan) and closes it once the decision is delivered
// (decide calls closechan), where SmartBFT's own signals every decision on
// one unbuffered channel. The patch's own tests check that a decision whose
// view a sync aborted leaves the controller running and that Decide returns
// after its own decision only.
func TestOrdererSyncDecideRacePatched(t *testing.T) {
	nettest.Integration(t)
	const bft = "github.com/hyperledger-labs/SmartBFT/internal/bft."
	requireCalls(t, "orderer", "SmartBFT/sync-decide-race.patch", "", map[string][]string{
		bft + "(*Controller).Decide": {"runtime.makechan(SB)"},
		bft + "(*Controller).decide": {"runtime.closechan(SB)"},
	})
}

// TestPeerDecodeOncePatched shows that the Fabric build carries
// network/fabricbin/patches/decode-once.patch (docs/ledger.md): in the peer
// binary's machine code, the validator's dispatcher, the ledger's batch
// preparer and the private data coordinator no longer unmarshal a
// transaction's envelope again to reach its chaincode action
// (protoutil.GetActionFromEnvelope), as Fabric's own do: the first two take
// it from the payload they hold (protoutil.GetActionFromPayload), the
// coordinator from the transaction it unmarshals once (protoutil.GetPayloads).
// The patch's own test checks GetActionFromPayload gives what
// GetActionFromEnvelope gives.
func TestPeerDecodeOncePatched(t *testing.T) {
	nettest.Integration(t)
	const fabric = "github.com/hyperledger/fabric/"
	requireCalls(t, "peer", "decode-once.patch", "protoutil.GetActionFromEnvelope(SB)", map[string][]string{
		fabric + "core/committer/txvalidator/v20/plugindispatcher.(*dispatcherImpl).Dispatch": {"protoutil.GetActionFromPayload(SB)"},
		fabric + "core/ledger/kvledger/txmgmt/validation.preprocessProtoBlock":                {"protoutil.GetActionFromPayload(SB)"},
		fabric + "gossip/privdata.getTxInfoFromTransactionBytes":                              {"protoutil.GetPayloads(SB)"},
	})
}

// TestPeerRwSetOncePatched shows that the Fabric build carries
// network/fabricbin/patches/rwset-once.patch (docs/ledger.md): in the peer
// binary's machine code, the private data coordinator's StoreBlock shares the
// block's parsed read-write sets (rwsetutil.ShareBlockRwSets), and the
// validator's dispatcher, the key-level endorsement check (its dependency
// extraction and its Validate), the coordinator and the ledger's batch
// preparer take a transaction's set from rwsetutil.TxRwSetOfBlock instead of
// each parsing it with (*rwsetutil.TxRwSet).FromProtoBytes, as Fabric's own
// do. The patch's own test checks TxRwSetOfBlock gives what FromProtoBytes
// gives.
func TestPeerRwSetOncePatched(t *testing.T) {
	nettest.Integration(t)
	const fabric = "github.com/hyperledger/fabric/"
	share := []string{"rwsetutil.ShareBlockRwSets(SB)"}
	take := []string{"rwsetutil.TxRwSetOfBlock(SB)"}
	requireCalls(t, "peer", "rwset-once.patch", "rwsetutil.(*TxRwSet).FromProtoBytes(SB)", map[string][]string{
		fabric + "gossip/privdata.(*coordinator).StoreBlock":                                       share,
		fabric + "gossip/privdata.getTxInfoFromTransactionBytes":                                   take,
		fabric + "core/committer/txvalidator/v20/plugindispatcher.(*dispatcherImpl).Dispatch":      take,
		fabric + "core/common/validation/statebased.(*KeyLevelValidator).extractDependenciesForTx": take,
		fabric + "core/common/validation/statebased.(*KeyLevelValidator).Validate":                 take,
		fabric + "core/ledger/kvledger/txmgmt/validation.preprocessProtoBlock":                     take,
	})
}

// TestPeerTxActionOncePatched shows that the Fabric build carries
// network/fabricbin/patches/txaction-once.patch (docs/ledger.md): in the peer
// binary's machine code, the private data coordinator's StoreBlock shares the
// block's unmarshalled transactions (protoutil.ShareBlockTxActions), and the
// validator's dispatcher, the validation plugin, the key-level endorsement
// check's dependency extraction, the coordinator and the ledger's batch
// preparer ask for a transaction unmarshalled down to its action
// (protoutil.TxActionOfBlock, or KeptTxActionOfBlock, which never
// unmarshals) before unmarshalling its envelope themselves, as Fabric's own
// always do (it cannot check that they no longer unmarshal: each keeps its
// own unmarshals for what is not kept). The patch's own test checks that what they get is what their
// own unmarshals give, and nothing where those fail.
func TestPeerTxActionOncePatched(t *testing.T) {
	nettest.Integration(t)
	const fabric = "github.com/hyperledger/fabric/"
	// TxActionOfBlock and KeptTxActionOfBlock are small enough to be
	// inlined: then their callers call their body, txActionOfBlock.
	share := []string{"protoutil.ShareBlockTxActions(SB)"}
	take := []string{"protoutil.TxActionOfBlock(SB)", "protoutil.txActionOfBlock(SB)"}
	kept := []string{"protoutil.KeptTxActionOfBlock(SB)", "protoutil.txActionOfBlock(SB)"}
	requireCalls(t, "peer", "txaction-once.patch", "", map[string][]string{
		fabric + "gossip/privdata.(*coordinator).StoreBlock":                                       share,
		fabric + "core/committer/txvalidator/v20/plugindispatcher.(*dispatcherImpl).Dispatch":      take,
		fabric + "core/handlers/validation/builtin/v20.(*Validator).extractValidationArtifacts":    take,
		fabric + "core/common/validation/statebased.(*KeyLevelValidator).extractDependenciesForTx": take,
		fabric + "gossip/privdata.getTxInfoFromTransactionBytes":                                   kept,
		fabric + "core/ledger/kvledger/txmgmt/validation.preprocessProtoBlock":                     kept,
	})
}

// requireCalls fails t unless each function of calls (its full symbol
// name) in the Fabric command's binary calls one of the functions listed for
// it (as go tool objdump names them, "protoutil.GetPayloads(SB)"), and,
// unless forbidden is "", none of them calls forbidden: what the Fabric build
// with network/fabricbin/patches/<patch> does.
func requireCalls(t *testing.T, command, patch, forbidden string, calls map[string][]string) {
	t.Helper()
	bin := fabricCommand(t, command)
	for fn, want := range calls {
		var found bool
		for _, call := range objdumpCalls(t, bin, fn) {
			if forbidden != "" && strings.Contains(call, forbidden) {
				t.Errorf("%s calls %s: bin/fabric was built without network/fabricbin/patches/%s (run make fabric-bin)\n%s", fn, forbidden, patch, call)
			}
			for _, w := range want {
				found = found || strings.Contains(call, w)
			}
		}
		if !found {
			t.Errorf("%s calls none of %s: bin/fabric was built without network/fabricbin/patches/%s (run make fabric-bin)", fn, strings.Join(want, ", "), patch)
		}
	}
}

// TestOrdererProposalBlockOncePatched shows that the Fabric build carries
// network/fabricbin/patches/proposal-block-once.patch (docs/ledger.md): in
// the orderer binary's machine code, the SmartBFT chain's verifier (to verify
// a proposal, to check a commit signature against it, to list its requests),
// signer and delivery take a proposal's block from the chain's proposalBlocks
// instead of each calling ProposalToBlock, as Fabric's own do. The patch's own
// test checks that a block is decoded once and only served for its bytes.
func TestOrdererProposalBlockOncePatched(t *testing.T) {
	nettest.Integration(t)
	const smartbft = "github.com/hyperledger/fabric/orderer/consensus/smartbft."
	shared := []string{"smartbft.(*proposalBlocks).Block(SB)"}
	requireCalls(t, "orderer", "proposal-block-once.patch", "smartbft.ProposalToBlock(SB)", map[string][]string{
		smartbft + "(*Verifier).VerifyProposal":                   shared,
		smartbft + "(*Verifier).RequestsFromProposal":             shared,
		smartbft + "(*Verifier).verifySignatureIsBoundToProposal": shared,
		smartbft + "(*Signer).SignProposal":                       shared,
		smartbft + "(*BFTChain).Deliver":                          {"smartbft.(*proposalBlocks).Owned(SB)"},
	})
}

// TestOrdererRequestUnwrapPatched shows that the Fabric build carries
// network/fabricbin/patches/request-unwrap-in-place.patch (docs/ledger.md):
// in the orderer binary's machine code, the SmartBFT request inspector's
// unwrapReq (behind RequestID and each transaction's check in a proposal)
// tries unwrapEndorserReqInPlace first, where Fabric's own unmarshals the
// envelope. The patch's own test checks it unwraps what Fabric's
// unmarshalling unwraps, with the same errors.
func TestOrdererRequestUnwrapPatched(t *testing.T) {
	nettest.Integration(t)
	const smartbft = "github.com/hyperledger/fabric/orderer/consensus/smartbft."
	requireCalls(t, "orderer", "request-unwrap-in-place.patch", "", map[string][]string{
		smartbft + "(*RequestInspector).unwrapReq": {"smartbft.unwrapEndorserReqInPlace(SB)"},
	})
}

// fabricCommand returns the path of a built Fabric command in bin/fabric.
func fabricCommand(t *testing.T, name string) string {
	t.Helper()
	return filepath.Join(nettest.RepoRoot(t), "bin", "fabric", name)
}

// objdumpCalls returns the CALL instructions of function fn (its full symbol
// name) in binary bin, as go tool objdump prints them. It fails the test when
// the binary has no such function or the function calls nothing, since a
// check of its calls would then prove nothing.
func objdumpCalls(t *testing.T, bin, fn string) []string {
	t.Helper()
	pattern := "^" + strings.NewReplacer(".", `\.`, "(", `\(`, ")", `\)`, "*", `\*`).Replace(fn) + "$"
	out, err := exec.Command("go", "tool", "objdump", "-s", pattern, bin).CombinedOutput()
	if err != nil {
		t.Fatalf("go tool objdump %s: %v\n%s", bin, err, out)
	}
	text := string(out)
	if !strings.Contains(text, "TEXT "+fn+"(SB)") {
		t.Fatalf("%s has no function %s: objdump printed\n%s", bin, fn, text)
	}
	var calls []string
	for line := range strings.SplitSeq(text, "\n") {
		if strings.Contains(line, "CALL ") {
			calls = append(calls, line)
		}
	}
	if len(calls) == 0 {
		t.Fatalf("no CALL instruction found in %s: cannot tell (objdump printed\n%s)", fn, text)
	}
	return calls
}

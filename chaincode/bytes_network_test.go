package chaincode_test

import (
	"fmt"
	"testing"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset/kvrwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/network/fabricblock"
	"github.com/votechain/votechain/network/fabricclient"
)

// txBytes splits a committed transaction's bytes: the envelope, the
// invocation's arguments (after the function name), and the read and write
// sets' entries (protobuf bytes of each KVRead and KVWrite). It also returns
// the writes, key → value.
type txBytes struct {
	envelope, args, reads, writes int
	nReads                        int
	written                       map[string][]byte
}

func measureTx(env []byte) (txBytes, error) {
	out := txBytes{envelope: len(env), written: map[string][]byte{}}
	var (
		e       common.Envelope
		payload common.Payload
		t       peer.Transaction
		cap     peer.ChaincodeActionPayload
		cpp     peer.ChaincodeProposalPayload
		cis     peer.ChaincodeInvocationSpec
		prp     peer.ProposalResponsePayload
		action  peer.ChaincodeAction
		rws     rwset.TxReadWriteSet
	)
	for _, layer := range []struct {
		data func() []byte
		m    proto.Message
	}{
		{func() []byte { return env }, &e},
		{e.GetPayload, &payload},
		{payload.GetData, &t},
		{func() []byte { return t.GetActions()[0].GetPayload() }, &cap},
		{cap.GetChaincodeProposalPayload, &cpp},
		{cpp.GetInput, &cis},
		{func() []byte { return cap.GetAction().GetProposalResponsePayload() }, &prp},
		{prp.GetExtension, &action},
		{action.GetResults, &rws},
	} {
		if err := proto.Unmarshal(layer.data(), layer.m); err != nil {
			return txBytes{}, fmt.Errorf("decode %T: %w", layer.m, err)
		}
	}
	for _, a := range cis.GetChaincodeSpec().GetInput().GetArgs()[1:] {
		out.args += len(a)
	}
	for _, ns := range rws.GetNsRwset() {
		var kv kvrwset.KVRWSet
		if err := proto.Unmarshal(ns.GetRwset(), &kv); err != nil {
			return txBytes{}, err
		}
		for _, r := range kv.GetReads() {
			out.reads += proto.Size(r)
			out.nReads++
		}
		for _, w := range kv.GetWrites() {
			out.writes += proto.Size(w)
			out.written[w.GetKey()] = w.GetValue()
		}
	}
	return out, nil
}

// voteBytes commits a batch of fresh voters and measures, in the block the
// peers committed, what each vote costs the transaction: its share of the
// arguments, the read set and the write set. Each counted vote reads its
// nullifier key and writes it with its nullifier record, which must locate
// the vote.
func (r *ledgerRun) voteBytes(t *testing.T, conn *fabricclient.Conn) {
	ctx := ctxFor(t)
	b := r.freshBatch(t, "WA", votesPerBatch)
	c, err := r.commit(t, ctx, b, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.record(c)
	blocks, err := conn.Network.BlockEvents(ctx, client.WithStartBlock(c.Block))
	if err != nil {
		t.Fatal(err)
	}
	block, ok := <-blocks
	if !ok {
		t.Fatalf("no block %d: %v", c.Block, ctx.Err())
	}
	var got *txBytes
	for _, env := range block.GetData().GetData() {
		if fabricblock.ParseTx(env).ID != c.TxID {
			continue
		}
		m, err := measureTx(env)
		if err != nil {
			t.Fatal(err)
		}
		got = &m
	}
	if got == nil {
		t.Fatalf("block %d does not hold transaction %s", c.Block, c.TxID)
	}
	if got.nReads < len(b.Votes) || len(got.written) != len(b.Votes)+1 {
		t.Fatalf("%d reads and %d writes for %d votes; want a read of each nullifier and a write of each nullifier and the batch", got.nReads, len(got.written), len(b.Votes))
	}
	for i, v := range b.Votes {
		value, ok := got.written[ballot.NullifierKey(b.State, v.Nullifier)]
		if !ok {
			t.Fatalf("vote %d's nullifier is not written", i)
		}
		if err := checkNullifierValue(value, b, i); err != nil {
			t.Fatalf("vote %d: %v", i, err)
		}
	}
	n := float64(len(b.Votes))
	t.Logf("bytes per vote in a committed transaction of %d votes: envelope %.1f = args %.1f + reads %.1f + writes %.1f + the rest %.1f",
		len(b.Votes), float64(got.envelope)/n, float64(got.args)/n, float64(got.reads)/n, float64(got.writes)/n,
		float64(got.envelope-got.args-got.reads-got.writes)/n)
}

// checkNullifierValue checks the value written under the nullifier key of
// vote i of b: its record locates the vote.
func checkNullifierValue(value []byte, b ballot.Batch, i int) error {
	rec, err := ballot.DecodeNullifierRecord(b.State, value)
	if err != nil {
		return err
	}
	v := b.Votes[i]
	if want := (ballot.NullifierRecord{State: b.State, Contest: v.Contest, Seq: b.Seq, Index: i, VoteID: v.ID}); rec != want {
		return fmt.Errorf("nullifier record %+v; want %+v", rec, want)
	}
	return nil
}

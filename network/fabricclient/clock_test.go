package fabricclient

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/network"
)

// peerTimewindowRefusal is the message a Fabric 3.1 peer's TimeWindowCheck
// filter gives a proposal stamped outside peer.authentication.timewindow,
// as the gateway service hands it on in an ErrorDetail.
const peerTimewindowRefusal = "rpc error: code = Unknown desc = request unauthorized due to incorrect timestamp 2026-12-06T21:40:00Z, peer time 2026-12-06T21:10:00Z, peer.authentication.timewindow 15m0s"

// TestClockRefusalsWrapErrClockSkew: a refusal of the client's clock wraps
// ballot.ErrClockSkew for an anchor, a batch, the admin's transactions
// (txError: set-up, close, roll, log keys), a finalise, a query and a
// block's look-up alike, whether the chaincode refused it (more than
// ballot.MaxClockSkew off, its mark) or the peer did before the chaincode
// ran (more than its 15 min timewindow off, no mark); another refusal and
// an unreachable peer do not. Each keeps the cause and the peers' messages.
func TestClockRefusalsWrapErrClockSkew(t *testing.T) {
	for _, tc := range []struct {
		name  string
		err   error
		clock bool
	}{
		{"chaincode's refusal", endorseFailure(t, "chaincode response 500, "+ballot.ClockSkewMark+" ballot: ...: proposal timestamp ... is 3m0s from this peer's clock"), true},
		{"peer's timewindow refusal", endorseFailure(t, peerTimewindowRefusal), true},
		{"peer's timewindow refusal by one of two", endorseFailure(t, "chaincode response 500, ballot: batch CA/3 already committed", peerTimewindowRefusal), true},
		{"another refusal", endorseFailure(t, "chaincode response 500, ballot: tree head signed by a key not registered on the ledger"), false},
		{"unreachable", context.DeadlineExceeded, false},
	} {
		for what, err := range map[string]error{
			"anchor":   anchorError(1, tc.err),
			"batch":    submitError("batch CA/3", tc.err),
			"close":    txError("CloseElection", tc.err),
			"finalise": finaliseError(txError("FinaliseElection", tc.err)),
			"query":    evaluateError("GetElection", nil, tc.err),
			"block":    blockOfTxError("tx1", tc.err),
		} {
			if errors.Is(err, ballot.ErrClockSkew) != tc.clock || !errors.Is(err, tc.err) {
				t.Errorf("%s, %s: %v; want a clock refused: %v, wrapping the cause", tc.name, what, err, tc.clock)
			}
			if msgs := peerMessages(tc.err); !strings.HasSuffix(err.Error(), msgs) {
				t.Errorf("%s, %s: %v lacks the peers' messages %q", tc.name, what, err, msgs)
			}
		}
	}
}

// refusingGateway is a peer's gateway service whose every query fails with
// refusal, a peer's message in the gateway's ErrorDetail, as a Fabric peer
// reports its own refusal of a proposal.
type refusingGateway struct {
	gateway.UnimplementedGatewayServer
	refusal string
}

func (g refusingGateway) Evaluate(context.Context, *gateway.EvaluateRequest) (*gateway.EvaluateResponse, error) {
	st, err := status.New(codes.Unknown, "evaluate call to endorser returned error: "+g.refusal).
		WithDetails(&gateway.ErrorDetail{Address: "peer0.observers:7051", MspId: "ObserversMSP", Message: g.refusal})
	if err != nil {
		return nil, err
	}
	return nil, st.Err()
}

// refusingDeliver is a peer's deliver service refusing every filtered
// block stream as Fabric's refuses one outside its timewindow: a bare
// BAD_REQUEST status. It counts the streams asked for.
type refusingDeliver struct {
	peer.UnimplementedDeliverServer
	streams *atomic.Int32
}

func (d refusingDeliver) DeliverFiltered(srv peer.Deliver_DeliverFilteredServer) error {
	if _, err := srv.Recv(); err != nil {
		return err
	}
	d.streams.Add(1)
	return srv.Send(&peer.DeliverResponse{Type: &peer.DeliverResponse_Status{Status: common.Status_BAD_REQUEST}})
}

// TestLedgerReadsNameTheClock: through a Fabric gateway client, a peer's
// refusal of this client's clock wraps ballot.ErrClockSkew for the reads
// that went without it (the chain info, a transaction's block, a committed
// batch's transaction), and the block stream is then an error wrapping it,
// not opened (its refusal would close it without a word); another refusal
// wraps it for none, and the block stream is opened and closes as the
// peer ends it.
func TestLedgerReadsNameTheClock(t *testing.T) {
	for _, tc := range []struct {
		name    string
		refusal string
		clock   bool
	}{
		{"clock refused", strings.TrimPrefix(peerTimewindowRefusal, "rpc error: code = Unknown desc = "), true},
		{"another refusal", "access denied: channel [election] creator org unknown", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var streams atomic.Int32
			b := refusingPeer(t, refusingGateway{refusal: tc.refusal}, refusingDeliver{streams: &streams})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, heightErr := b.Height(ctx)
			_, blockErr := b.BlockOfTx(ctx, "tx1")
			_, batchErr := b.CommittedBatch(ctx, "tx1", "CA", 3)
			for what, err := range map[string]error{"chain info": heightErr, "block of tx": blockErr, "committed batch": batchErr} {
				if err == nil || errors.Is(err, ballot.ErrClockSkew) != tc.clock || !strings.Contains(err.Error(), tc.refusal) {
					t.Errorf("%s: %v; want the peer's refusal, wrapping ErrClockSkew: %v", what, err, tc.clock)
				}
			}
			blocks, err := b.BlockNumbers(ctx)
			if tc.clock {
				if !errors.Is(err, ballot.ErrClockSkew) || streams.Load() != 0 {
					t.Errorf("block stream: %v after %d streams; want an error wrapping ErrClockSkew before any", err, streams.Load())
				}
				return
			}
			if err != nil {
				t.Fatalf("block stream: %v; want it opened", err)
			}
			for n := range blocks {
				t.Errorf("block %d from a refused stream", n)
			}
			if streams.Load() != 1 {
				t.Errorf("%d block streams asked for; want 1", streams.Load())
			}
		})
	}
}

// refusingPeer serves gw and deliver as an Observers peer over TLS and
// returns a Ballot connected to it.
func refusingPeer(t *testing.T, gw gateway.GatewayServer, deliver peer.DeliverServer) *Ballot {
	t.Helper()
	dir := t.TempDir()
	serverCert, serverKey := writeCert(t, dir, "peer0.observers")
	userCert, userKey := writeCert(t, dir, "User1@observers")
	creds, err := credentials.NewServerTLSFromFile(serverCert, serverKey)
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.Creds(creds))
	gateway.RegisterGatewayServer(srv, gw)
	peer.RegisterDeliverServer(srv, deliver)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	p := network.Profile{Channel: "election", Chaincode: "votechain", Orgs: map[string]network.OrgProfile{"Observers": {
		MSPID: "ObserversMSP",
		Peer:  network.Endpoint{Address: lis.Addr().String(), TLSRootPEM: serverCert, ServerName: "peer0.observers"},
		Users: map[string]network.Identity{"User1": {Cert: userCert, Key: userKey}},
	}}}
	c, err := Dial(t.Context(), p, "Observers")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.Ballot()
}

// stallingGateway is a peer's gateway service that takes every query and
// answers none until the client gives up.
type stallingGateway struct {
	gateway.UnimplementedGatewayServer
}

func (stallingGateway) Evaluate(ctx context.Context, _ *gateway.EvaluateRequest) (*gateway.EvaluateResponse, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestStalledChainInfoDelaysStreamBriefly: a peer that takes the chain
// info query BlockNumbers asks first and stalls holds up the block stream
// by chainInfoTimeout, not by the evaluate timeout (30 s) or ctx's.
func TestStalledChainInfoDelaysStreamBriefly(t *testing.T) {
	var streams atomic.Int32
	b := refusingPeer(t, stallingGateway{}, refusingDeliver{streams: &streams})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	blocks, err := b.BlockNumbers(ctx)
	if waited := time.Since(start); err != nil || waited > chainInfoTimeout+3*time.Second {
		t.Fatalf("block stream after %s: %v; want it opened within about %s", waited.Round(time.Millisecond), err, chainInfoTimeout)
	}
	for n := range blocks {
		t.Errorf("block %d from a refused stream", n)
	}
	if streams.Load() != 1 {
		t.Errorf("%d block streams asked for; want 1", streams.Load())
	}
}

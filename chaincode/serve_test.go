package chaincode

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
)

// TestServeRecordsBatching plays the peer's side of the chaincode stream:
// the service registers, the "peer" advertises batching in READY, and the
// probe's Batching reports exactly what was advertised.
func TestServeRecordsBatching(t *testing.T) {
	for _, want := range []Batching{
		{Connected: true, WriteBatch: true, MaxWriteBatch: 10_000, GetMultipleKeys: true, MaxGetMultipleKeys: 20_000},
		{Connected: true}, // a peer without chaincode.runtimeParams
	} {
		link := new(PeerLink)
		if got := link.Batching(); got.Connected {
			t.Fatalf("before any peer: %+v", got)
		}
		cc, err := contractapi.NewChaincode(NewBallotContract(), NewProbeContract(link))
		if err != nil {
			t.Fatal(err)
		}
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		served := make(chan error, 1)
		go func() {
			served <- Serve(ctx, lis, "ballot:1", cc, link, slog.New(slog.NewTextHandler(io.Discard, nil)))
		}()

		conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		stream, err := peer.NewChaincodeClient(conn).Connect(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if msg, err := stream.Recv(); err != nil || msg.Type != peer.ChaincodeMessage_REGISTER {
			t.Fatalf("first message %v, %v; want REGISTER", msg, err)
		}
		payload, err := proto.Marshal(&peer.ChaincodeAdditionalParams{UseWriteBatch: want.WriteBatch, MaxSizeWriteBatch: want.MaxWriteBatch,
			UseGetMultipleKeys: want.GetMultipleKeys, MaxSizeGetMultipleKeys: want.MaxGetMultipleKeys})
		if err != nil {
			t.Fatal(err)
		}
		for _, msg := range []*peer.ChaincodeMessage{{Type: peer.ChaincodeMessage_REGISTERED}, {Type: peer.ChaincodeMessage_READY, Payload: payload}} {
			if err := stream.Send(msg); err != nil {
				t.Fatal(err)
			}
		}
		deadline := time.Now().Add(10 * time.Second)
		for !link.Batching().Connected && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		h := newHarness(t)
		out := h.must(observerAdmin, NewProbeContract(link).Batching)
		var got Batching
		if err := json.Unmarshal([]byte(out), &got); err != nil || got != want {
			t.Errorf("Batching = %s (%v); want %+v", out, err, want)
		}
		conn.Close()
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve after cancel: %v", err)
		}
	}
}

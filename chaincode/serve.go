package chaincode

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/protobuf/proto"
)

// Batching is what a peer advertised to the chaincode when it connected
// (its core.yaml chaincode.runtimeParams): whether the shim may send a
// transaction's writes in batches and read many keys in one exchange, and
// how many keys go in one exchange. A peer whose core.yaml lacks the keys
// advertises both off, and the shim then silently falls back to one
// exchange per key.
type Batching struct {
	Connected          bool   `json:"connected"` // a peer has connected and said it is ready
	WriteBatch         bool   `json:"write_batch"`
	MaxWriteBatch      uint32 `json:"max_write_batch"`
	GetMultipleKeys    bool   `json:"get_multiple_keys"`
	MaxGetMultipleKeys uint32 `json:"max_get_multiple_keys"`
}

// PeerLink records what the connected peer advertised. One chaincode
// service serves one organisation's peer; if the peer reconnects, the last
// advertisement wins. The zero value is ready to use.
type PeerLink struct {
	mu sync.Mutex
	b  Batching
}

// Batching returns what the peer last advertised.
func (l *PeerLink) Batching() Batching {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b
}

// observe records the advertisement of a READY message and returns it.
func (l *PeerLink) observe(msg *peer.ChaincodeMessage) (Batching, error) {
	var p peer.ChaincodeAdditionalParams
	if err := proto.Unmarshal(msg.GetPayload(), &p); err != nil { // an empty payload is all off, as for the shim
		return Batching{}, err
	}
	b := Batching{Connected: true, WriteBatch: p.UseWriteBatch, MaxWriteBatch: p.MaxSizeWriteBatch,
		GetMultipleKeys: p.UseGetMultipleKeys, MaxGetMultipleKeys: p.MaxSizeGetMultipleKeys}
	l.mu.Lock()
	l.b = b
	l.mu.Unlock()
	return b, nil
}

// maxMessageBytes bounds chaincode stream messages both ways, as the shim's
// own server does.
const maxMessageBytes = 100 << 20

// Serve runs cc as a chaincode service (plain gRPC: the peer reaches it on
// loopback) on lis until ctx ends, with the shim's own server settings. It
// records in link, and logs, what each connecting peer advertises; shim's
// ChaincodeServer.Start does the same serving but hides the advertisement.
func Serve(ctx context.Context, lis net.Listener, ccid string, cc shim.Chaincode, link *PeerLink, log *slog.Logger) error {
	if ccid == "" {
		return errors.New("chaincode id must be set")
	}
	srv := grpc.NewServer(
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: time.Minute, Timeout: 20 * time.Second}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: time.Minute, PermitWithoutStream: true}),
		grpc.MaxSendMsgSize(maxMessageBytes), grpc.MaxRecvMsgSize(maxMessageBytes),
		grpc.ConnectionTimeout(5*time.Second),
	)
	peer.RegisterChaincodeServer(srv, chaincodeService{cs: &shim.ChaincodeServer{CCID: ccid, CC: cc}, link: link, log: log})
	stop := context.AfterFunc(ctx, srv.Stop)
	defer stop()
	if err := srv.Serve(lis); err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}

// chaincodeService hands each peer's stream to the shim, watching it for
// the peer's READY message.
type chaincodeService struct {
	cs   *shim.ChaincodeServer
	link *PeerLink
	log  *slog.Logger
}

func (s chaincodeService) Connect(stream peer.Chaincode_ConnectServer) error {
	err := s.cs.Connect(readyWatch{stream, s})
	s.log.Info("peer stream ended", "err", err)
	return err
}

// readyWatch is a peer stream that records the READY message's payload.
type readyWatch struct {
	peer.Chaincode_ConnectServer
	s chaincodeService
}

func (w readyWatch) Recv() (*peer.ChaincodeMessage, error) {
	msg, err := w.Chaincode_ConnectServer.Recv()
	if err != nil || msg.GetType() != peer.ChaincodeMessage_READY {
		return msg, err
	}
	b, perr := w.s.link.observe(msg)
	switch {
	case perr != nil:
		w.s.log.Warn("peer ready; its batching parameters do not decode", "err", perr)
	case !b.WriteBatch || !b.GetMultipleKeys:
		w.s.log.Warn("peer ready with batching off: one exchange per key (set chaincode.runtimeParams in core.yaml)",
			"write_batch", b.WriteBatch, "get_multiple_keys", b.GetMultipleKeys)
	default:
		w.s.log.Info("peer ready", "write_batch", b.WriteBatch, "max_write_batch", b.MaxWriteBatch,
			"get_multiple_keys", b.GetMultipleKeys, "max_get_multiple_keys", b.MaxGetMultipleKeys)
	}
	return msg, nil
}

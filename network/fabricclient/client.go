// Package fabricclient connects Votechain components to the consortium through
// the Fabric Gateway client, using the connection profile the test network
// writes. It owns the gRPC connection, the identity and the signer; callers get
// a *client.Gateway and the election channel's contracts.
package fabricclient

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-gateway/pkg/hash"
	"github.com/hyperledger/fabric-gateway/pkg/identity"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/votechain/votechain/network"
)

// maxMessageBytes bounds gRPC messages both ways. A 10,000-vote batch and the
// blocks that carry it are several MB, above gRPC's 4 MB default.
const maxMessageBytes = 100 << 20

// Conn is a connection to one organisation's peer as one user.
type Conn struct {
	grpc    *grpc.ClientConn
	Gateway *client.Gateway
	Network *client.Network // the election channel
	profile network.Profile
	// endorsers are the organisations whose peers endorse a batch, all at
	// once; nil: the peer's gateway chooses.
	endorsers []string
}

type options struct {
	user             string
	peer             string // organisation whose peer to connect to; "": the identity's
	evaluate, sub    time.Duration
	endorse, commit  time.Duration
	gatewayEndorsers bool
}

// DefaultEvaluateTimeout is the evaluate timeout of a Conn whose Dial is
// given no WithTimeouts: the longest one of its queries (an evaluate, such
// as a read of the election record) waits for the peer's answer.
const DefaultEvaluateTimeout = 30 * time.Second

// Option configures Dial.
type Option func(*options)

// WithUser selects the enrolled user to act as (default "User1"; "Admin" for
// the organisation's administrator).
func WithUser(user string) Option { return func(o *options) { o.user = user } }

// WithTimeouts sets the evaluate, endorse, submit and commit-status timeouts.
func WithTimeouts(evaluate, endorse, submit, commitStatus time.Duration) Option {
	return func(o *options) { o.evaluate, o.endorse, o.sub, o.commit = evaluate, endorse, submit, commitStatus }
}

// WithGatewayEndorsers leaves the choice of a batch's endorsers to the
// peer's gateway, which runs the chaincode on its own peer first and only
// then on the other organisation's: one chaincode run longer than the
// default, which names every organisation the endorsement policy requires
// so both run it at once (BenchmarkDrainCost compares the two).
func WithGatewayEndorsers() Option { return func(o *options) { o.gatewayEndorsers = true } }

// WithPeer connects to the peer of organisation peerOrg (its address, TLS
// root and server name from the profile) instead of Dial's org's, while the
// identity and signer stay the user of Dial's org: that peer's gateway
// endorses, orders and reports the commit status of this connection's
// transactions, whose creator is still Dial's org's user. Channel and
// chaincode policies judge that creator, not the peer it submits through.
func WithPeer(peerOrg string) Option { return func(o *options) { o.peer = peerOrg } }

// Dial connects to org's peer (e.g. "Commission"), or the peer WithPeer
// names, as org's user described by profile. The connection is lazy: Dial
// reads the identity and TLS root and makes no network round trip
// (grpc.NewClient connects on the first call), so it fails only on bad
// configuration, not on a peer that is down or silent; the first call
// connects, bounded by that call's ctx and its WithTimeouts timeout.
//
// ctx is checked once, after the identity's files are read and before
// dialTLS (which reads the peer's TLS root and makes the gRPC client): if
// ctx is done by then, Dial fails with ctx's error and makes no client.
// Nothing else in Dial looks at ctx; none of it waits on the network. The
// Conn outlives ctx: it lasts until Close, each call on it bounded by the
// ctx it is given.
func Dial(ctx context.Context, profile network.Profile, org string, opts ...Option) (*Conn, error) {
	o := options{user: "User1", evaluate: DefaultEvaluateTimeout, endorse: 60 * time.Second, sub: 30 * time.Second, commit: 2 * time.Minute}
	for _, opt := range opts {
		opt(&o)
	}
	user, err := profile.User(org, o.user)
	if err != nil {
		return nil, err
	}
	op := profile.Orgs[org]
	id, sign, err := loadIdentity(op.MSPID, user)
	if err != nil {
		return nil, fmt.Errorf("%s %s identity: %w", org, o.user, err)
	}
	peerOrg, peer := org, op.Peer
	if o.peer != "" && o.peer != org {
		pp, err := profile.Org(o.peer)
		if err != nil {
			return nil, fmt.Errorf("peer to connect to: %w", err)
		}
		peerOrg, peer = o.peer, pp.Peer
	}
	if err := ctx.Err(); err != nil { // after the identity's files, before dialTLS
		return nil, fmt.Errorf("dial %s peer: %w", peerOrg, err)
	}
	cc, err := dialTLS(peerOrg, peer)
	if err != nil {
		return nil, fmt.Errorf("%s peer: %w", peerOrg, err)
	}
	gw, err := client.Connect(id,
		client.WithSign(sign),
		client.WithHash(hash.SHA256),
		client.WithClientConnection(cc),
		client.WithEvaluateTimeout(o.evaluate),
		client.WithEndorseTimeout(o.endorse),
		client.WithSubmitTimeout(o.sub),
		client.WithCommitStatusTimeout(o.commit),
	)
	if err != nil {
		cc.Close()
		return nil, fmt.Errorf("connect gateway: %w", err)
	}
	c := &Conn{grpc: cc, Gateway: gw, Network: gw.GetNetwork(profile.Channel), profile: profile}
	if !o.gatewayEndorsers {
		c.endorsers = network.EndorsingMSPs()
	}
	return c, nil
}

// Contract returns a contract of the project's chaincode, e.g. "ballot" or "probe".
func (c *Conn) Contract(name string) *client.Contract {
	return c.Network.GetContractWithName(c.profile.Chaincode, name)
}

// Consensus is the ordering service's protocol as the connection profile
// records it (empty for a profile written before it was recorded).
func (c *Conn) Consensus() network.Consensus { return c.profile.Consensus }

// Close closes the gateway and its gRPC connection.
func (c *Conn) Close() error {
	c.Gateway.Close()
	return c.grpc.Close()
}

func loadIdentity(mspID string, user network.Identity) (*identity.X509Identity, identity.Sign, error) {
	certPEM, err := os.ReadFile(user.Cert)
	if err != nil {
		return nil, nil, err
	}
	cert, err := identity.CertificateFromPEM(certPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("parse certificate %s: %w", user.Cert, err)
	}
	id, err := identity.NewX509Identity(mspID, cert)
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err := os.ReadFile(user.Key)
	if err != nil {
		return nil, nil, err
	}
	key, err := identity.PrivateKeyFromPEM(keyPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("parse private key %s: %w", user.Key, err)
	}
	sign, err := identity.NewPrivateKeySign(key)
	if err != nil {
		return nil, nil, err
	}
	return id, sign, nil
}

// dialTLS makes the (lazy) connection to org's peer at ep.
func dialTLS(org string, ep network.Endpoint) (*grpc.ClientConn, error) {
	pem, err := os.ReadFile(ep.TLSRootPEM)
	if err != nil {
		return nil, fmt.Errorf("TLS root: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("TLS root %s holds no certificate", ep.TLSRootPEM)
	}
	return grpc.NewClient(ep.Address,
		grpc.WithTransportCredentials(credentials.NewClientTLSFromCert(roots, ep.ServerName)),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMessageBytes), grpc.MaxCallSendMsgSize(maxMessageBytes)),
		grpc.WithChainUnaryInterceptor(nameUnreachable(org, ep.Address)),
	)
}

// nameUnreachable rewrites the error of a call that failed because no
// connection to the peer could be made (codes.Unavailable with gRPC's
// "connection error", whose raw text names neither the peer nor a fix) to
// an *UnreachableError naming org's peer at addr and the cause; a refused
// connection adds how to start the network. The code stays Unavailable, so
// a caller that retries on it still does. Any other error passes
// unchanged: a reachable peer's Unavailable (no endorsing peers, say) is
// the peer's own word.
func nameUnreachable(org, addr string) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		err := invoker(ctx, method, req, reply, cc, opts...)
		s, ok := status.FromError(err)
		if !ok || s.Code() != codes.Unavailable || !strings.HasPrefix(s.Message(), "connection error: ") {
			return err
		}
		// connection error: desc = "transport: Error while dialing: dial tcp ADDR: connect: connection refused"
		cause := s.Message()
		if i := strings.LastIndex(cause, "desc = "); i >= 0 {
			cause = strings.Trim(cause[i+len("desc = "):], `"`)
		}
		cause = strings.TrimPrefix(cause, "transport: Error while dialing: ")
		fix := ""
		if strings.Contains(cause, "connection refused") {
			fix = ": is the network up? `make up` starts the system, `make network-up` the network alone"
		}
		return &UnreachableError{Org: org, Addr: addr, Cause: cause, Fix: fix}
	}
}

// UnreachableError is the error of a call that got no connection to Org's
// peer at Addr (nameUnreachable): the peer never heard the call, as Cause
// (gRPC's, "dial tcp ADDR: connect: connection refused") says; Fix, if
// not empty, is how to start the network (": is the network up? ...").
// Its gRPC status is Unavailable, with the peer named.
type UnreachableError struct {
	Org, Addr, Cause, Fix string
}

func (e *UnreachableError) Error() string { return e.GRPCStatus().Err().Error() }

// GRPCStatus is the error's status (status.FromError, status.Code): Unavailable.
func (e *UnreachableError) GRPCStatus() *status.Status {
	return status.Newf(codes.Unavailable, "the %s peer at %s is not reachable (%s)%s", e.Org, e.Addr, e.Cause, e.Fix)
}

// Unreachable reports whether err is or wraps an *UnreachableError: the
// call got no connection to the peer. A peer's own Unavailable (no peers
// to endorse or evaluate with, a GOAWAY as it restarts) is an answer, not
// this.
func Unreachable(err error) bool {
	var u *UnreachableError
	return errors.As(err, &u)
}

package fabricclient

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/votechain/votechain/network"
)

// writeCert writes a fresh self-signed certificate for name (its common
// name and DNS name, so that a server may present it) and its PKCS#8 key as
// PEM files under dir and returns their paths.
func writeCert(t *testing.T, dir, name string) (cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	cert, key = filepath.Join(dir, name+"-cert.pem"), filepath.Join(dir, name+"-key.pem")
	if err := os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// TestWithPeer: WithPeer connects to the named organisation's peer (its
// address and TLS root) as the user of Dial's organisation; without it,
// or naming Dial's own organisation, Dial uses that organisation's peer;
// an organisation not in the profile is refused by name. The Commission's
// peer's TLS root is missing, so a Dial that read it fails.
func TestWithPeer(t *testing.T) {
	dir := t.TempDir()
	userCert, userKey := writeCert(t, dir, "User1@commission")
	observersRoot, _ := writeCert(t, dir, "tlsca.observers")
	p := network.Profile{Channel: "election", Chaincode: "votechain", Orgs: map[string]network.OrgProfile{
		"Commission": {
			MSPID: "CommissionMSP",
			Peer:  network.Endpoint{Address: "127.0.0.1:29701", TLSRootPEM: filepath.Join(dir, "missing.pem"), ServerName: "peer0.commission"},
			Users: map[string]network.Identity{"User1": {Cert: userCert, Key: userKey}},
		},
		"Observers": {
			MSPID: "ObserversMSP",
			Peer:  network.Endpoint{Address: "127.0.0.1:29702", TLSRootPEM: observersRoot, ServerName: "peer0.observers"},
		},
	}}

	c, err := Dial(t.Context(), p, "Commission", WithPeer("Observers"))
	if err != nil {
		t.Fatalf("Dial Commission through the Observers' peer: %v", err)
	}
	defer c.Close()
	if got := c.grpc.Target(); got != "127.0.0.1:29702" {
		t.Errorf("connection target %q, want the Observers' peer 127.0.0.1:29702", got)
	}
	if got := c.Gateway.Identity().MspID(); got != "CommissionMSP" {
		t.Errorf("identity of MSP %q, want CommissionMSP (the caller's)", got)
	}

	for _, opts := range [][]Option{nil, {WithPeer("Commission")}} {
		_, err := Dial(t.Context(), p, "Commission", opts...)
		if err == nil || !strings.Contains(err.Error(), "Commission peer: TLS root") {
			t.Errorf("Dial Commission with %d options: %v; want the Commission peer's TLS root missing", len(opts), err)
		}
	}
	if _, err := Dial(t.Context(), p, "Commission", WithPeer("Auditors")); err == nil || !strings.Contains(err.Error(), `"Auditors" is not in the connection profile`) {
		t.Errorf("Dial through an unknown organisation's peer: %v; want it named as not in the profile", err)
	}
}

// TestUnreachablePeerNamed: a call to a peer nothing listens on fails at
// once, still as Unavailable, naming the organisation's peer, its address,
// the refused connection and how to start the network, instead of gRPC's
// raw "connection error: desc = transport: ...".
func TestUnreachablePeerNamed(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeCert(t, dir, "User1@observers")
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close() // a free port: nothing listens
	p := network.Profile{Channel: "election", Chaincode: "votechain", Orgs: map[string]network.OrgProfile{"Observers": {
		MSPID: "ObserversMSP",
		Peer:  network.Endpoint{Address: addr, TLSRootPEM: cert, ServerName: "peer0.observers"},
		Users: map[string]network.Identity{"User1": {Cert: cert, Key: key}},
	}}}
	c, err := Dial(t.Context(), p, "Observers")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = c.Ballot().Election(ctx)
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("GetElection from no peer: %v; want Unavailable", err)
	}
	for _, want := range []string{"the Observers peer at " + addr + " is not reachable (dial tcp " + addr + ": connect: connection refused)", "`make up` starts the system"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "Error while dialing") {
		t.Errorf("error %q keeps gRPC's raw words", err)
	}
	if !Unreachable(err) {
		t.Errorf("Unreachable(%q) is false; want true", err)
	}
}

// TestUnreachableOnlyWithoutConnection: Unreachable holds of the error
// nameUnreachable makes of a call that got no connection, wrapped or not,
// and of no other, not a reachable peer's own Unavailable (no peers to
// evaluate with, a GOAWAY as it restarts) nor a deadline.
func TestUnreachableOnlyWithoutConnection(t *testing.T) {
	interceptor := nameUnreachable("Observers", "127.0.0.1:7051")
	call := func(err error) error {
		return interceptor(context.Background(), "/gateway.Gateway/Evaluate", nil, nil, nil,
			func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return err })
	}
	refused := status.Error(codes.Unavailable, `connection error: desc = "transport: Error while dialing: dial tcp 127.0.0.1:7051: connect: connection refused"`)
	for name, c := range map[string]struct {
		err  error
		want bool
	}{
		"no connection":          {call(refused), true},
		"no connection, wrapped": {fmt.Errorf("evaluate GetElection: %w", call(refused)), true},
		"no peers to evaluate":   {call(status.Error(codes.Unavailable, "no peers available to evaluate chaincode votechain in channel election")), false},
		"a GOAWAY":               {call(status.Error(codes.Unavailable, "the connection is draining")), false},
		"a deadline":             {call(status.Error(codes.DeadlineExceeded, "context deadline exceeded")), false},
		"none":                   {nil, false},
	} {
		if got := Unreachable(c.err); got != c.want {
			t.Errorf("%s: Unreachable(%v) = %t; want %t", name, c.err, got, c.want)
		}
		if c.want && status.Code(c.err) != codes.Unavailable {
			t.Errorf("%s: code %s; want Unavailable kept", name, status.Code(c.err))
		}
	}
}

// silentPeer returns the address of a 127.0.0.1 listener that accepts
// connections and never answers: a TLS handshake with it waits forever.
func silentPeer(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan []net.Conn, 1)
	go func() {
		var conns []net.Conn
		for {
			c, err := lis.Accept()
			if err != nil {
				accepted <- conns
				return
			}
			conns = append(conns, c) // held open, unanswered
		}
	}()
	t.Cleanup(func() {
		lis.Close()
		for _, c := range <-accepted {
			c.Close()
		}
	})
	return lis.Addr().String()
}

// TestDialContext: Dial makes no round trip, so against a peer that
// accepts and never answers TLS it returns at once, and the first call
// connects, given up when that call's ctx expires (well before the 30 s
// evaluate timeout) as DeadlineExceeded; a Dial whose ctx is already done
// fails with ctx's error and returns no Conn.
func TestDialContext(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeCert(t, dir, "User1@observers")
	p := network.Profile{Channel: "election", Chaincode: "votechain", Orgs: map[string]network.OrgProfile{"Observers": {
		MSPID: "ObserversMSP",
		Peer:  network.Endpoint{Address: silentPeer(t), TLSRootPEM: cert, ServerName: "peer0.observers"},
		Users: map[string]network.Identity{"User1": {Cert: cert, Key: key}},
	}}}

	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	if c, err := Dial(cancelled, p, "Observers"); !errors.Is(err, context.Canceled) || c != nil {
		t.Errorf("Dial with a cancelled ctx: Conn %t, %v; want none and context.Canceled", c != nil, err)
	}
	expired, cancel := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
	defer cancel()
	if c, err := Dial(expired, p, "Observers"); !errors.Is(err, context.DeadlineExceeded) || c != nil {
		t.Errorf("Dial with an expired ctx: Conn %t, %v; want none and context.DeadlineExceeded", c != nil, err)
	}

	// A wait on the silent peer lasts until Dial's ctx ends, or longer
	// (gRPC's connect timeout is 20 s): a Dial that returns before its ctx
	// ended did not wait, however slow the machine.
	dialCtx, cancelDial := context.WithTimeout(t.Context(), 10*time.Second)
	began := time.Now()
	c, err := Dial(dialCtx, p, "Observers")
	waited := dialCtx.Err()
	cancelDial() // the Conn outlives the ctx it was dialled with
	if err != nil {
		t.Fatalf("Dial a silent peer: %v", err)
	}
	defer c.Close()
	if waited != nil {
		t.Errorf("Dial returned after %v, once its ctx had ended (%v); want no wait on the silent peer", time.Since(began), waited)
	}
	const bound = 300 * time.Millisecond
	callCtx, cancelCall := context.WithTimeout(t.Context(), bound)
	defer cancelCall()
	began = time.Now()
	_, err = c.Ballot().Election(callCtx)
	if d := time.Since(began); status.Code(err) != codes.DeadlineExceeded || d > bound+5*time.Second {
		t.Errorf("first call to a silent peer: %v after %v; want DeadlineExceeded at its ctx's %v", err, d, bound)
	}
}

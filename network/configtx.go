package network

import (
	"fmt"
	"maps"
	"path/filepath"
	"time"
)

// ChannelProfile is the configtxgen profile that creates the election channel.
const ChannelProfile = "ElectionChannel"

type policy struct {
	Type string `yaml:"Type"`
	Rule string `yaml:"Rule"`
}

func signature(rule string, args ...any) policy {
	return policy{Type: "Signature", Rule: fmt.Sprintf(rule, args...)}
}

func implicitMeta(rule string) policy { return policy{Type: "ImplicitMeta", Rule: rule} }

type hostPort struct {
	Host string `yaml:"Host"`
	Port int    `yaml:"Port"`
}

type configtxOrg struct {
	Name             string            `yaml:"Name"`
	ID               string            `yaml:"ID"`
	MSPDir           string            `yaml:"MSPDir"`
	Policies         map[string]policy `yaml:"Policies"`
	OrdererEndpoints []string          `yaml:"OrdererEndpoints,omitempty"`
	AnchorPeers      []hostPort        `yaml:"AnchorPeers,omitempty"`
}

type raftConsenter struct {
	Host          string `yaml:"Host"`
	Port          int    `yaml:"Port"`
	ClientTLSCert string `yaml:"ClientTLSCert"`
	ServerTLSCert string `yaml:"ServerTLSCert"`
}

type bftConsenter struct {
	ID            int    `yaml:"ID"`
	Host          string `yaml:"Host"`
	Port          int    `yaml:"Port"`
	MSPID         string `yaml:"MSPID"`
	Identity      string `yaml:"Identity"` // the orderer's signing certificate: it signs blocks
	ClientTLSCert string `yaml:"ClientTLSCert"`
	ServerTLSCert string `yaml:"ServerTLSCert"`
}

// RaftOptions returns the etcdraft settings as configtx.yaml's
// Orderer.EtcdRaft.Options takes them, a new map at each call, so no caller
// can change them for the others. A short tick makes leader failover take
// ~2 s instead of ~5 s on loopback, where heartbeats are never slow.
func RaftOptions() map[string]any {
	return map[string]any{
		"TickInterval": "200ms", "ElectionTick": 10, "HeartbeatTick": 1,
		"MaxInflightBlocks": 5, "SnapshotIntervalSize": "16 MB",
	}
}

// SmartBFT timeouts, chosen for one machine that may be loaded (2 shared
// cores) rather than SmartBFT's defaults for a WAN (forward 2 s, complain
// 20 s, heartbeat 1 min): short enough that a dead or silent leader is
// replaced within about 5 s, so every vote's 202→commit stays under 15 s
// (the batcher waits the failover out: Consensus.Failover). A live leader
// (heartbeats every 0.5 s) is replaced too if it holds a request longer than
// the request timeout: it then stops its own heartbeats, and followers
// holding it complain. A benchmark's roll load, 12-24 MB blocks on a loaded
// machine, took longer than that a block, and each new leader, which starts
// with the same backlog and a fresh 5 s, was replaced in turn; those view
// changes complete (BFTMaxBlockBytes), and a longer timeout, 20 s, made a
// vote wait 35.7 s with the leader killed (docs/ledger.md, "SmartBFT under
// roll-sized load"). The gateway sends each transaction to all four
// orderers, so followers hold every request the leader should order.
const (
	// BFTRequestForwardTimeout: a follower still holding a request after
	// this forwards it to the leader.
	BFTRequestForwardTimeout = 1 * time.Second
	// BFTRequestComplainTimeout: a follower whose forwarded request is still
	// not ordered after this complains about the leader; complaints from a
	// quorum start a view change (a new leader).
	BFTRequestComplainTimeout = 4 * time.Second
	// BFTRequestTimeout bounds how long a silent or censoring leader can hold
	// up a request before the followers replace it.
	BFTRequestTimeout = BFTRequestForwardTimeout + BFTRequestComplainTimeout
	// BFTLeaderHeartbeatTimeout: followers that hear nothing from the leader
	// for this long (heartbeats every tenth of it) replace it, even when idle.
	BFTLeaderHeartbeatTimeout = 5 * time.Second
	// BFTViewChangeTimeout: a view change that has not completed after this
	// moves on to the next leader.
	BFTViewChangeTimeout = 10 * time.Second
)

// BFTViewChangeTime is the longest k consecutive SmartBFT view changes can
// take: each one that does not complete in time is given up and the next
// started, and SmartBFT waits BFTViewChangeTimeout times the number of the
// attempt (1, 2, … k; SmartBFT's internal/bft/viewchanger.go,
// checkIfTimeout, reset once a view starts), k(k+1)/2 timeouts in all.
func BFTViewChangeTime(k int) time.Duration {
	return BFTViewChangeTimeout * time.Duration(k*(k+1)/2)
}

// SmartBFTOptions are the SmartBFT settings. configtxgen takes them as given
// (missing fields become zero, not defaults), so every one is set. Block
// cutting reuses the channel's BatchSize (MaxMessageCount and
// AbsoluteMaxBytes, BFTMaxBlockBytes under BFT, become the request batch
// limits, and AbsoluteMaxBytes the largest request); a block also closes
// after BatchTimeout, as with Raft. Leader rotation stays off: Fabric 3.1.1
// refuses config updates with it on ("leader rotation must be turned off for
// this version"); a leader that withholds requests is replaced by the
// complaint path above instead. SyncOnStart stays off: on a fresh channel
// every orderer would wait 5 s for the others' heights (they are all
// starting), and a restarted orderer catches up anyway as soon as it sees
// the others' newer blocks.
func SmartBFTOptions() map[string]any {
	return map[string]any{
		"RequestBatchMaxInterval":   BatchTimeout,
		"RequestForwardTimeout":     BFTRequestForwardTimeout.String(),
		"RequestComplainTimeout":    BFTRequestComplainTimeout.String(),
		"RequestAutoRemoveTimeout":  "3m0s",
		"ViewChangeResendInterval":  "2s",
		"ViewChangeTimeout":         BFTViewChangeTimeout.String(),
		"LeaderHeartbeatTimeout":    BFTLeaderHeartbeatTimeout.String(),
		"LeaderHeartbeatCount":      10,
		"CollectTimeout":            "1s",
		"IncomingMessageBufferSize": 200,
		"RequestPoolSize":           2000,
		"SyncOnStart":               false,
		"SpeedUpViewChange":         false,
		"LeaderRotation":            1, // smartbft.Options_ROTATION_OFF
		"DecisionsPerLeader":        0,
	}
}

// WriteConfigtx writes configtx.yaml with one profile: the election channel,
// ordered by the four orderers with the given consensus, with the Commission
// and Observers as application organisations. Each organisation's orderers
// are an orderer organisation of their own, with its orderer endpoints
// (channel capability V3_0 has no global orderer addresses). Anchor peers are
// part of each organisation, so they land in the genesis block and need no
// later channel update. Every endpoint is on its node's host in hosts.
func WriteConfigtx(l Layout, ports Ports, hosts Placement, consensus Consensus) error {
	var ordererOrgs []configtxOrg
	for _, o := range PeerOrgs() {
		org := configtxOrg{
			Name: o.OrdererMSPID, ID: o.OrdererMSPID, MSPDir: l.OrdererOrgMSP(o),
			Policies: map[string]policy{
				"Readers": signature("OR('%s.member')", o.OrdererMSPID),
				"Writers": signature("OR('%s.member')", o.OrdererMSPID),
				"Admins":  signature("OR('%s.admin')", o.OrdererMSPID),
			},
		}
		for i := 0; i < OrdererCount; i++ {
			if OrdererOrg(i) == o {
				listen, _, _ := ports.Orderer(i)
				org.OrdererEndpoints = append(org.OrdererEndpoints, hosts.Orderer(i).Join(listen))
			}
		}
		ordererOrgs = append(ordererOrgs, org)
	}

	var appOrgs []configtxOrg
	for i, o := range PeerOrgs() {
		listen, _, _ := ports.Peer(i)
		appOrgs = append(appOrgs, configtxOrg{
			Name: o.MSPID, ID: o.MSPID, MSPDir: l.OrgMSP(o),
			Policies: map[string]policy{
				"Readers":     signature("OR('%[1]s.admin','%[1]s.peer','%[1]s.client')", o.MSPID),
				"Writers":     signature("OR('%[1]s.admin','%[1]s.client')", o.MSPID),
				"Admins":      signature("OR('%s.admin')", o.MSPID),
				"Endorsement": signature("OR('%s.peer')", o.MSPID),
			},
			AnchorPeers: []hostPort{{Host: hosts.Peer(i).Addr, Port: listen}},
		})
	}

	standard := map[string]policy{
		"Readers": implicitMeta("ANY Readers"),
		"Writers": implicitMeta("ANY Writers"),
		"Admins":  implicitMeta("MAJORITY Admins"),
	}
	with := func(extra map[string]policy) map[string]policy {
		out := maps.Clone(standard)
		maps.Copy(out, extra)
		return out
	}

	orderer := map[string]any{
		"BatchTimeout": BatchTimeout,
		"BatchSize": map[string]any{
			"MaxMessageCount":   MaxMessageCount,
			"AbsoluteMaxBytes":  AbsoluteMaxBytes,
			"PreferredMaxBytes": PreferredMaxBytes,
		},
		"Organizations": ordererOrgs,
		// For BFT configtxgen replaces BlockValidation with a 3-of-4
		// signature policy over the consenters' identities.
		"Policies":     with(map[string]policy{"BlockValidation": implicitMeta("ANY Writers")}),
		"Capabilities": map[string]bool{"V2_0": true},
	}
	switch consensus {
	case Raft:
		var consenters []raftConsenter
		for i := 0; i < OrdererCount; i++ {
			listen, _, _ := ports.Orderer(i)
			cert := filepath.Join(l.OrdererNode(i), "tls", "server.crt")
			consenters = append(consenters, raftConsenter{Host: hosts.Orderer(i).Addr, Port: listen, ClientTLSCert: cert, ServerTLSCert: cert})
		}
		orderer["OrdererType"] = "etcdraft"
		orderer["EtcdRaft"] = map[string]any{"Consenters": consenters, "Options": RaftOptions()}
	case BFT:
		var consenters []bftConsenter
		for i := 0; i < OrdererCount; i++ {
			listen, _, _ := ports.Orderer(i)
			cert := filepath.Join(l.OrdererNode(i), "tls", "server.crt")
			consenters = append(consenters, bftConsenter{ID: i + 1, Host: hosts.Orderer(i).Addr, Port: listen,
				MSPID: OrdererOrg(i).OrdererMSPID, Identity: l.OrdererSignCert(i), ClientTLSCert: cert, ServerTLSCert: cert})
		}
		orderer["OrdererType"] = "BFT"
		orderer["BatchSize"] = map[string]any{
			"MaxMessageCount":   MaxMessageCount,
			"AbsoluteMaxBytes":  BFTMaxBlockBytes,
			"PreferredMaxBytes": BFTMaxBlockBytes,
		}
		orderer["ConsenterMapping"] = consenters
		orderer["SmartBFT"] = SmartBFTOptions()
	default:
		return fmt.Errorf("unknown consensus %q", consensus)
	}

	profile := map[string]any{
		"Policies":     standard,
		"Capabilities": map[string]bool{"V3_0": true},
		"Orderer":      orderer,
		"Application": map[string]any{
			"Organizations": appOrgs,
			"Policies": with(map[string]policy{
				"LifecycleEndorsement": implicitMeta("MAJORITY Endorsement"),
				"Endorsement":          implicitMeta("MAJORITY Endorsement"),
			}),
			"Capabilities": map[string]bool{"V2_5": true},
		},
	}
	return writeYAML(filepath.Join(l.ConfigtxDir(), "configtx.yaml"),
		map[string]any{"Profiles": map[string]any{ChannelProfile: profile}})
}

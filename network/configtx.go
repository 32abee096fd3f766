package network

import (
	"fmt"
	"path/filepath"
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

type consenter struct {
	Host          string `yaml:"Host"`
	Port          int    `yaml:"Port"`
	ClientTLSCert string `yaml:"ClientTLSCert"`
	ServerTLSCert string `yaml:"ServerTLSCert"`
}

// WriteConfigtx writes configtx.yaml with one profile: the election channel,
// ordered by three etcdraft orderers, with the Commission and Observers as
// application organisations. Anchor peers are part of each organisation, so
// they land in the genesis block and need no later channel update.
func WriteConfigtx(l Layout, ports Ports) error {
	ordererOrg := configtxOrg{
		Name: "OrdererOrg", ID: OrdererMSPID, MSPDir: l.OrdererOrgMSP(),
		Policies: map[string]policy{
			"Readers": signature("OR('%s.member')", OrdererMSPID),
			"Writers": signature("OR('%s.member')", OrdererMSPID),
			"Admins":  signature("OR('%s.admin')", OrdererMSPID),
		},
	}
	var consenters []consenter
	for i := 0; i < OrdererCount; i++ {
		listen, _, _ := ports.Orderer(i)
		ordererOrg.OrdererEndpoints = append(ordererOrg.OrdererEndpoints, fmt.Sprintf("127.0.0.1:%d", listen))
		cert := filepath.Join(l.OrdererNode(i), "tls", "server.crt")
		consenters = append(consenters, consenter{Host: "127.0.0.1", Port: listen, ClientTLSCert: cert, ServerTLSCert: cert})
	}

	var appOrgs []configtxOrg
	for i, o := range PeerOrgs {
		listen, _, _ := ports.Peer(i)
		appOrgs = append(appOrgs, configtxOrg{
			Name: o.MSPID, ID: o.MSPID, MSPDir: l.OrgMSP(o),
			Policies: map[string]policy{
				"Readers":     signature("OR('%[1]s.admin','%[1]s.peer','%[1]s.client')", o.MSPID),
				"Writers":     signature("OR('%[1]s.admin','%[1]s.client')", o.MSPID),
				"Admins":      signature("OR('%s.admin')", o.MSPID),
				"Endorsement": signature("OR('%s.peer')", o.MSPID),
			},
			AnchorPeers: []hostPort{{Host: "127.0.0.1", Port: listen}},
		})
	}

	standard := map[string]policy{
		"Readers": implicitMeta("ANY Readers"),
		"Writers": implicitMeta("ANY Writers"),
		"Admins":  implicitMeta("MAJORITY Admins"),
	}
	with := func(extra map[string]policy) map[string]policy {
		out := map[string]policy{}
		for k, v := range standard {
			out[k] = v
		}
		for k, v := range extra {
			out[k] = v
		}
		return out
	}

	profile := map[string]any{
		"Policies":     standard,
		"Capabilities": map[string]bool{"V2_0": true},
		"Orderer": map[string]any{
			"OrdererType":  "etcdraft",
			"BatchTimeout": BatchTimeout,
			"BatchSize": map[string]any{
				"MaxMessageCount":   MaxMessageCount,
				"AbsoluteMaxBytes":  AbsoluteMaxBytes,
				"PreferredMaxBytes": PreferredMaxBytes,
			},
			"EtcdRaft": map[string]any{
				"Consenters": consenters,
				// A short tick makes leader failover take ~2 s instead of ~5 s
				// on loopback, where heartbeats are never slow.
				"Options": map[string]any{
					"TickInterval": "200ms", "ElectionTick": 10, "HeartbeatTick": 1,
					"MaxInflightBlocks": 5, "SnapshotIntervalSize": "16 MB",
				},
			},
			"Organizations": []configtxOrg{ordererOrg},
			"Policies":      with(map[string]policy{"BlockValidation": implicitMeta("ANY Writers")}),
			"Capabilities":  map[string]bool{"V2_0": true},
		},
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

package network

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/orderer/etcdraft"
	"github.com/hyperledger/fabric-protos-go-apiv2/orderer/smartbft"
	"gopkg.in/yaml.v3"
)

// configtxgen takes the SmartBFT options as written: a field left out is
// zero, not SmartBFT's default, and a name it does not know is an error.
func TestSmartBFTOptionsSetEveryField(t *testing.T) {
	opts := SmartBFTOptions()
	fields := optionFields(t, opts, smartbft.Options{})
	// The orderer fills these from the channel's BatchSize; RequestMaxBytes 0
	// means the batch limit (a BFTMaxBlockBytes transaction is allowed).
	derived := map[string]bool{"RequestBatchMaxCount": true, "RequestBatchMaxBytes": true, "RequestMaxBytes": true}
	for name := range fields {
		if _, ok := opts[name]; !ok && !derived[name] {
			t.Errorf("smartbft.Options.%s is not set", name)
		}
	}
	forward, _ := time.ParseDuration(opts["RequestForwardTimeout"].(string))
	complain, _ := time.ParseDuration(opts["RequestComplainTimeout"].(string))
	if forward+complain != BFTRequestTimeout || forward > complain {
		t.Errorf("forward %s + complain %s, request timeout %s", forward, complain, BFTRequestTimeout)
	}
	if opts["LeaderRotation"] != int(smartbft.Options_ROTATION_OFF) || opts["DecisionsPerLeader"] != 0 {
		t.Error("leader rotation must be off on Fabric 3.1.1")
	}
}

// configtxgen refuses an etcdraft option it does not know, and each call
// returns its own map.
func TestRaftOptionsAreEtcdraftFields(t *testing.T) {
	opts := RaftOptions()
	optionFields(t, opts, etcdraft.Options{})
	opts["TickInterval"] = "1s"
	if again := RaftOptions(); again["TickInterval"] != "200ms" {
		t.Errorf("a caller's change to RaftOptions' map shows in the next call: TickInterval %v", again["TickInterval"])
	}
}

// optionFields returns the exported fields of the options message of
// which options is the configtx.yaml form, and reports each name in options
// that is not one of them.
func optionFields(t *testing.T, options map[string]any, message any) map[string]bool {
	t.Helper()
	fields := map[string]bool{}
	typ := reflect.TypeOf(message)
	for i := 0; i < typ.NumField(); i++ {
		if f := typ.Field(i); f.IsExported() {
			fields[f.Name] = true
		}
	}
	for name := range options {
		if !fields[name] {
			t.Errorf("option %s is not a field of %s", name, typ)
		}
	}
	return fields
}

// A SmartBFT view change completes only if the new leader's new-view
// message, which holds each orderer's last decided block and proposal in
// flight, fits one gRPC message between orderers.
func TestBFTViewChangeFitsOneMessage(t *testing.T) {
	block := megabytes(t, BFTMaxBlockBytes)
	const headers = 1 << 20 // headers, metadata, signatures, framing: a few KB in fact
	if need := 2*OrdererCount*block + headers; need > OrdererMaxMessageBytes {
		t.Errorf("a new-view message may hold %d bytes (2 blocks of %s from each of %d orderers), over the orderers' %d-byte gRPC limit",
			need, BFTMaxBlockBytes, OrdererCount, OrdererMaxMessageBytes)
	}
	// The limit the orderers run with is the one the block limit is sized
	// against (it also bounds their cluster connections).
	for i := 0; i < OrdererCount; i++ {
		s := OrdererSettings(Layout{Dir: t.TempDir()}, Ports{Base: DefaultPortBase}, OneHost(), i)
		for _, key := range []string{"General.MaxRecvMsgSize", "General.MaxSendMsgSize"} {
			if s[key] != OrdererMaxMessageBytes {
				t.Errorf("%s %s = %v, want OrdererMaxMessageBytes (%d)", OrdererProcess(i), key, s[key], OrdererMaxMessageBytes)
			}
		}
	}
}

// megabytes parses a size as configtxgen does ("12 MB" is 12 MiB).
func megabytes(t *testing.T, s string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscanf(s, "%d MB", &n); err != nil || fmt.Sprintf("%d MB", n) != s {
		t.Fatalf("size %q is not N MB", s)
	}
	return n << 20
}

func TestConfigtxOrderersSplitAcrossOrganisations(t *testing.T) {
	for _, consensus := range []Consensus{BFT, Raft} {
		t.Run(string(consensus), func(t *testing.T) {
			l := Layout{Dir: t.TempDir()}
			if err := WriteConfigtx(l, Ports{Base: DefaultPortBase}, OneHost(), consensus); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(filepath.Join(l.ConfigtxDir(), "configtx.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			var doc struct {
				Profiles map[string]struct {
					Capabilities map[string]bool `yaml:"Capabilities"`
					Orderer      struct {
						BatchTimeout string `yaml:"BatchTimeout"`
						BatchSize    struct {
							MaxMessageCount   int    `yaml:"MaxMessageCount"`
							AbsoluteMaxBytes  string `yaml:"AbsoluteMaxBytes"`
							PreferredMaxBytes string `yaml:"PreferredMaxBytes"`
						} `yaml:"BatchSize"`
						SmartBFT         map[string]any `yaml:"SmartBFT"`
						OrdererType      string         `yaml:"OrdererType"`
						Addresses        []string       `yaml:"Addresses"`
						ConsenterMapping []bftConsenter `yaml:"ConsenterMapping"`
						EtcdRaft         struct {
							Consenters []raftConsenter `yaml:"Consenters"`
						} `yaml:"EtcdRaft"`
						Organizations []configtxOrg `yaml:"Organizations"`
					} `yaml:"Orderer"`
				} `yaml:"Profiles"`
			}
			if err := yaml.Unmarshal(data, &doc); err != nil {
				t.Fatal(err)
			}
			p := doc.Profiles[ChannelProfile]
			if !p.Capabilities["V3_0"] || len(p.Orderer.Addresses) != 0 {
				t.Errorf("capabilities %v, global orderer addresses %v: want V3_0 and none", p.Capabilities, p.Orderer.Addresses)
			}
			endpoints := map[string]int{}
			for _, o := range p.Orderer.Organizations {
				endpoints[o.ID] = len(o.OrdererEndpoints)
			}
			if endpoints[Commission.OrdererMSPID] != OrderersPerOrg || endpoints[Observers.OrdererMSPID] != OrderersPerOrg || len(endpoints) != 2 {
				t.Errorf("orderer endpoints per organisation: %v", endpoints)
			}
			if p.Orderer.BatchTimeout != BatchTimeout {
				t.Errorf("block timer %q, want BatchTimeout %s", p.Orderer.BatchTimeout, BatchTimeout)
			}
			bs := p.Orderer.BatchSize
			switch consensus {
			case BFT:
				if bs.MaxMessageCount != MaxMessageCount || bs.AbsoluteMaxBytes != BFTMaxBlockBytes || bs.PreferredMaxBytes != BFTMaxBlockBytes {
					t.Errorf("BFT batch size %+v, want %d transactions and %s", bs, MaxMessageCount, BFTMaxBlockBytes)
				}
				// The SmartBFT leader waits this long before each proposal
				// that is not full: it is the channel's block timer.
				if got := p.Orderer.SmartBFT["RequestBatchMaxInterval"]; got != BatchTimeout {
					t.Errorf("SmartBFT RequestBatchMaxInterval %v, want the channel's BatchTimeout %s", got, BatchTimeout)
				}
				if p.Orderer.OrdererType != "BFT" || len(p.Orderer.ConsenterMapping) != OrdererCount {
					t.Fatalf("type %s with %d consenters", p.Orderer.OrdererType, len(p.Orderer.ConsenterMapping))
				}
				perMSP := map[string]int{}
				for i, c := range p.Orderer.ConsenterMapping {
					perMSP[c.MSPID]++
					if c.ID != i+1 || c.Identity != l.OrdererSignCert(i) {
						t.Errorf("consenter %d: id %d identity %s", i, c.ID, c.Identity)
					}
				}
				if perMSP[Commission.OrdererMSPID] != 2 || perMSP[Observers.OrdererMSPID] != 2 {
					t.Errorf("consenters per MSP %v: a 3-of-4 quorum must need both organisations", perMSP)
				}
			case Raft:
				if bs.MaxMessageCount != MaxMessageCount || bs.AbsoluteMaxBytes != AbsoluteMaxBytes || bs.PreferredMaxBytes != PreferredMaxBytes {
					t.Errorf("Raft batch size %+v, want %d transactions, %s preferred, %s absolute", bs, MaxMessageCount, PreferredMaxBytes, AbsoluteMaxBytes)
				}
				if p.Orderer.OrdererType != "etcdraft" || len(p.Orderer.EtcdRaft.Consenters) != OrdererCount {
					t.Fatalf("type %s with %d consenters", p.Orderer.OrdererType, len(p.Orderer.EtcdRaft.Consenters))
				}
			}
		})
	}
	if err := WriteConfigtx(Layout{Dir: t.TempDir()}, Ports{Base: DefaultPortBase}, OneHost(), "pbft"); err == nil {
		t.Error("unknown consensus accepted")
	}
}

func TestParseConsensus(t *testing.T) {
	for in, want := range map[string]Consensus{"": DefaultConsensus, "bft": BFT, "raft": Raft} {
		if got, err := ParseConsensus(in); err != nil || got != want {
			t.Errorf("ParseConsensus(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseConsensus("BFT"); err == nil {
		t.Error("ParseConsensus accepted an unknown name")
	}
}

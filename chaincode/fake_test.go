package chaincode

import (
	"cmp"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/hyperledger/fabric-chaincode-go/v2/pkg/cid"
	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/queryresult"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// fakeStub is a map-backed ledger with Fabric 3.1's read/write semantics:
// reads see only committed state (never the running transaction's own
// writes, not even through GetMultipleStates), writes are buffered and
// applied by commit, and one event per transaction. Between StartWriteBatch
// and FinishWriteBatch (or the end of the transaction, where the shim
// flushes) writes are held back and sent in one exchange, whose failure
// FinishWriteBatch reports. It counts exchanges with the peer as a peer with
// batching on would see them. Methods the contract does not use are left to
// the nil embedded interface.
//
// A transaction may also be endorsed and committed later, after others
// (endorse, commitEndorsed): its read set (recorded once trackReads is
// called, as a peer's simulation records it) is then validated against the
// state as Fabric's committer does, each key read by its version and each
// range query by the keys it yields now. One difference: the fake records
// the keys a range query yielded to the chaincode, where the peer records
// every key it fetched (up to ~100 ahead of the chaincode's reading), so a
// query the chaincode stops early is judged on fewer keys here than on a
// peer; queries read to their end, as finalise's, are judged alike.
//
// queryLimit, if set, is the peer's ledger.state.totalQueryLimit: a range
// query silently yields no more than that many results, and one that
// reached it is recorded as ending at its last key, not exhausted (the
// peer does not look past it).
type fakeStub struct {
	shim.ChaincodeStubInterface

	state    map[string][]byte
	versions map[string]uint64 // of each key in state: the commit that last wrote it
	height   uint64            // commits so far
	reads    *readSet          // the running transaction's; nil: not recorded
	writes   map[string][]byte
	batch    map[string][]byte // writes held back by StartWriteBatch; nil outside a write batch
	txID     string
	txTime   time.Time
	event    *fakeEvent

	args    []string // function and parameters, for calls through contractapi
	creator []byte   // serialized caller identity, for calls through contractapi

	// Calls in the current transaction: GetState, GetMultipleStates, the keys
	// they read, PutState, write exchanges (an unbatched PutState or a
	// non-empty FinishWriteBatch), range queries.
	gets, multiGets, keysRead, puts, writeExchanges, ranges int
	failOn                                                  string // name of a method that fails with errInjected

	queryLimit int // most results of one range query; 0: no limit
}

var errInjected = errors.New("injected ledger failure")

// fault returns errInjected if method is set to fail.
func (s *fakeStub) fault(method string) error {
	if s.failOn == method {
		return errInjected
	}
	return nil
}

type fakeEvent struct {
	name    string
	payload []byte
}

func newFakeStub() *fakeStub {
	return &fakeStub{state: map[string][]byte{}, versions: map[string]uint64{}}
}

// begin starts a transaction at time now.
func (s *fakeStub) begin(txID string, now time.Time) {
	s.txID, s.txTime = txID, now
	s.writes, s.batch, s.event, s.reads = map[string][]byte{}, nil, nil, nil
	s.gets, s.multiGets, s.keysRead, s.puts, s.writeExchanges, s.ranges = 0, 0, 0, 0, 0, 0
}

// commit applies the transaction's writes, as a VALID transaction would,
// after flushing an unfinished write batch as the shim does.
func (s *fakeStub) commit() {
	if err := s.FinishWriteBatch(); err != nil {
		panic("commit after a failed write batch: " + err.Error())
	}
	s.apply(s.writes)
}

// apply writes a committed transaction's writes, each key's version the
// commit's.
func (s *fakeStub) apply(writes map[string][]byte) {
	s.height++
	for k, v := range writes {
		s.state[k], s.versions[k] = v, s.height
	}
}

// readSet is what a transaction read, as a peer's simulation records it:
// each key's version (0: absent) and each range query's results.
type readSet struct {
	keys   map[string]uint64
	ranges []*rangeRead
}

// rangeRead is a range query of the keys with prefix: the keys the
// iterator yielded, in order, with their versions, and whether it ran to
// the end (if not, the range ends at the last key yielded).
type rangeRead struct {
	prefix    string
	keys      []string
	versions  []uint64
	exhausted bool
}

// trackReads records the running transaction's reads from now on.
func (s *fakeStub) trackReads() {
	s.reads = &readSet{keys: map[string]uint64{}}
}

// read records that the running transaction read key.
func (s *fakeStub) read(key string) {
	if s.reads != nil {
		s.reads.keys[key] = s.versions[key]
	}
}

// endorsed is a transaction simulated and not yet committed: what an
// endorsement carries.
type endorsed struct {
	reads  *readSet
	writes map[string][]byte
}

// endorse ends the running transaction's simulation (reads tracked since
// trackReads), flushing an unfinished write batch, and returns it for
// commitEndorsed.
func (s *fakeStub) endorse() endorsed {
	if s.reads == nil {
		panic("endorse without trackReads")
	}
	if err := s.FinishWriteBatch(); err != nil {
		panic("endorse after a failed write batch: " + err.Error())
	}
	tx := endorsed{reads: s.reads, writes: s.writes}
	s.reads, s.writes = nil, map[string][]byte{}
	return tx
}

// commitEndorsed validates tx against the state now, as Fabric's committer
// does (core/ledger/kvledger/txmgmt/validation: every key read must have
// the version it had when read, else MVCC_READ_CONFLICT; every range query
// must yield the same keys at the same versions, else
// PHANTOM_READ_CONFLICT), applies its writes if it is VALID, and returns
// the validation code.
func (s *fakeStub) commitEndorsed(tx endorsed) string {
	for k, v := range tx.reads.keys {
		if s.versions[k] != v {
			return "MVCC_READ_CONFLICT"
		}
	}
	for _, r := range tx.reads.ranges {
		var keys []string
		for _, k := range slices.Sorted(maps.Keys(s.state)) {
			if strings.HasPrefix(k, r.prefix) && (r.exhausted || len(r.keys) > 0 && k <= r.keys[len(r.keys)-1]) {
				keys = append(keys, k)
			}
		}
		if !slices.Equal(keys, r.keys) {
			return "PHANTOM_READ_CONFLICT"
		}
		for i, k := range keys {
			if s.versions[k] != r.versions[i] {
				return "PHANTOM_READ_CONFLICT"
			}
		}
	}
	s.apply(tx.writes)
	return "VALID"
}

func (s *fakeStub) GetState(key string) ([]byte, error) {
	s.gets++
	s.keysRead++
	s.read(key)
	return s.state[key], s.fault("GetState")
}

// GetMultipleStates returns the committed values of keys in their order
// (nil for a missing key), in one exchange.
func (s *fakeStub) GetMultipleStates(keys ...string) ([][]byte, error) {
	s.multiGets++
	s.keysRead += len(keys)
	if err := s.fault("GetMultipleStates"); err != nil {
		return nil, err
	}
	vals := make([][]byte, len(keys))
	for i, k := range keys {
		s.read(k)
		vals[i] = s.state[k]
	}
	return vals, nil
}

// PutState writes at once, or into the open write batch, in which case a
// failure shows at FinishWriteBatch.
func (s *fakeStub) PutState(key string, value []byte) error {
	s.puts++
	if s.batch != nil {
		s.batch[key] = value
		return nil
	}
	s.writeExchanges++
	s.writes[key] = value
	return s.fault("PutState")
}

func (s *fakeStub) StartWriteBatch() {
	if s.batch == nil {
		s.batch = map[string][]byte{}
	}
}

// FinishWriteBatch sends the batch's writes in one exchange.
func (s *fakeStub) FinishWriteBatch() error {
	batch := s.batch
	s.batch = nil
	if len(batch) == 0 {
		return nil
	}
	s.writeExchanges++
	if err := cmp.Or(s.fault("PutState"), s.fault("FinishWriteBatch")); err != nil {
		return err
	}
	maps.Copy(s.writes, batch)
	return nil
}

func (s *fakeStub) GetTxID() string { return s.txID }

func (s *fakeStub) GetCreator() ([]byte, error) { return s.creator, nil }

func (s *fakeStub) GetFunctionAndParameters() (string, []string) {
	if len(s.args) == 0 {
		return "", nil
	}
	return s.args[0], s.args[1:]
}

func (s *fakeStub) GetTxTimestamp() (*timestamppb.Timestamp, error) {
	if err := s.fault("GetTxTimestamp"); err != nil {
		return nil, err
	}
	if s.failOn == "NoTimestamp" {
		return nil, nil
	}
	return timestamppb.New(s.txTime), nil
}

func (s *fakeStub) SetEvent(name string, payload []byte) error {
	s.event = &fakeEvent{name, payload}
	return s.fault("SetEvent")
}

// GetStateByPartialCompositeKey ranges over committed keys with the prefix
// shim would build, in key order, recording what it yields as a range read.
func (s *fakeStub) GetStateByPartialCompositeKey(object string, attrs []string) (shim.StateQueryIteratorInterface, error) {
	kvs, prefix, err := s.keysWithPrefix(object, attrs)
	if err != nil {
		return nil, err
	}
	it := &fakeIterator{kvs: kvs, fail: s.failOn == "Next"}
	if s.queryLimit > 0 && len(kvs) >= s.queryLimit {
		it.kvs, it.limited = kvs[:s.queryLimit], true
	}
	if s.reads != nil {
		it.read, it.versions = &rangeRead{prefix: prefix}, s.versions
		s.reads.ranges = append(s.reads.ranges, it.read)
	}
	return it, nil
}

// keysWithPrefix returns the committed keys with the prefix shim would
// build, in key order, and the prefix.
func (s *fakeStub) keysWithPrefix(object string, attrs []string) ([]*queryresult.KV, string, error) {
	s.ranges++
	if err := s.fault("GetStateByPartialCompositeKey"); err != nil {
		return nil, "", err
	}
	prefix, err := shim.CreateCompositeKey(object, attrs)
	if err != nil {
		return nil, "", err
	}
	var kvs []*queryresult.KV
	for _, k := range slices.Sorted(maps.Keys(s.state)) {
		if strings.HasPrefix(k, prefix) {
			kvs = append(kvs, &queryresult.KV{Key: k, Value: s.state[k]})
		}
	}
	return kvs, prefix, nil
}

// GetStateByPartialCompositeKeyWithPagination pages like the peer: up to
// size keys (and queryLimit) after the bookmark (the last key of the
// previous page). The peer serves it only to read-only transactions, so it
// records no read.
func (s *fakeStub) GetStateByPartialCompositeKeyWithPagination(object string, attrs []string, size int32, bookmark string) (shim.StateQueryIteratorInterface, *peer.QueryResponseMetadata, error) {
	kvs, _, err := s.keysWithPrefix(object, attrs)
	if err != nil {
		return nil, nil, err
	}
	for len(kvs) > 0 && bookmark != "" && kvs[0].Key <= bookmark {
		kvs = kvs[1:]
	}
	kvs = kvs[:min(len(kvs), int(size))]
	if s.queryLimit > 0 {
		kvs = kvs[:min(len(kvs), s.queryLimit)]
	}
	meta := &peer.QueryResponseMetadata{FetchedRecordsCount: int32(len(kvs))}
	if len(kvs) > 0 {
		meta.Bookmark = kvs[len(kvs)-1].Key
	}
	return &fakeIterator{kvs: kvs}, meta, nil
}

type fakeIterator struct {
	kvs     []*queryresult.KV
	fail    bool
	limited bool // kvs end at the query limit: the read is not exhausted
	// read records what the iterator yields (nil: not recorded), with the
	// keys' versions.
	read     *rangeRead
	versions map[string]uint64
}

func (it *fakeIterator) HasNext() bool {
	if len(it.kvs) == 0 && it.read != nil && !it.limited {
		it.read.exhausted = true
	}
	return len(it.kvs) > 0
}

func (it *fakeIterator) Close() error { return nil }

func (it *fakeIterator) Next() (*queryresult.KV, error) {
	if len(it.kvs) == 0 || it.fail {
		return nil, errors.New("iterator failed")
	}
	kv := it.kvs[0]
	it.kvs = it.kvs[1:]
	if it.read != nil {
		it.read.keys = append(it.read.keys, kv.Key)
		it.read.versions = append(it.read.versions, it.versions[kv.Key])
	}
	return kv, nil
}

// fakeIdentity is a caller: an MSP id and the OUs of its certificate.
type fakeIdentity struct {
	msp      string
	ous      []string
	cn       string // certificate subject common name
	failMSP  bool   // GetMSPID fails
	failCert bool   // GetX509Certificate fails
	noCert   bool   // GetX509Certificate finds no certificate
}

var _ cid.ClientIdentity = fakeIdentity{}

// batcherCN is the common name of the one batcher testElection names.
const batcherCN = "User1@commission.votechain.test"

var (
	commissionAdmin  = fakeIdentity{msp: CommissionMSP, ous: []string{"admin"}}
	commissionClient = fakeIdentity{msp: CommissionMSP, ous: []string{"client"}, cn: batcherCN} // the batcher testElection names
	gatewayClient    = fakeIdentity{msp: CommissionMSP, ous: []string{"client"}, cn: "User2@commission.votechain.test"}
	observerAdmin    = fakeIdentity{msp: "ObserversMSP", ous: []string{"admin"}}
)

func (f fakeIdentity) GetID() (string, error) { return "x509::CN=" + f.msp, nil }
func (f fakeIdentity) GetMSPID() (string, error) {
	if f.failMSP {
		return "", errInjected
	}
	return f.msp, nil
}
func (f fakeIdentity) GetAttributeValue(string) (string, bool, error) { return "", false, nil }
func (f fakeIdentity) AssertAttributeValue(name, _ string) error {
	return errors.New("attribute " + name + " not present")
}
func (f fakeIdentity) GetX509Certificate() (*x509.Certificate, error) {
	switch {
	case f.failCert:
		return nil, errInjected
	case f.noCert:
		return nil, nil
	}
	return &x509.Certificate{Subject: pkix.Name{OrganizationalUnit: f.ous, CommonName: f.cn}}, nil
}

// txContext returns a transaction context over the stub for caller.
func txContext(stub *fakeStub, caller fakeIdentity) contractapi.TransactionContextInterface {
	ctx := new(contractapi.TransactionContext)
	ctx.SetStub(stub)
	ctx.SetClientIdentity(caller)
	return ctx
}

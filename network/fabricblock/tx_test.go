package fabricblock

import (
	"reflect"
	"testing"

	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset/kvrwset"
	"google.golang.org/protobuf/proto"
)

// writesByProto is what decodeWrites replaced: the writes of a KVRWSet
// decoded with proto.Unmarshal.
func writesByProto(data []byte, ns string) ([]Write, error) {
	var kv kvrwset.KVRWSet
	if err := proto.Unmarshal(data, &kv); err != nil {
		return nil, err
	}
	var out []Write
	for _, w := range kv.GetWrites() {
		out = append(out, Write{Namespace: ns, Key: w.GetKey(), Value: w.GetValue(), Delete: w.GetIsDelete()})
	}
	return out, nil
}

// TestDecodeWritesAgreesWithProto: decodeWrites gives the writes
// proto.Unmarshal gives, past reads, range queries and metadata writes,
// for deletes, empty and absent values; and refuses what proto.Unmarshal
// refuses in the writes (truncation, a key that is not UTF-8).
func TestDecodeWritesAgreesWithProto(t *testing.T) {
	kv := &kvrwset.KVRWSet{
		Reads:            []*kvrwset.KVRead{{Key: "\x00n\x00CA\x00abc\x00", Version: &kvrwset.Version{BlockNum: 7, TxNum: 2}}, {Key: "absent"}},
		RangeQueriesInfo: []*kvrwset.RangeQueryInfo{{StartKey: "a", EndKey: "b", ItrExhausted: true}},
		Writes: []*kvrwset.KVWrite{{Key: "\x00batch\x00CA\x0000000000000000000001\x00", Value: []byte(`{"state":"CA"}`)},
			{Key: "gone", IsDelete: true}, {Key: "empty", Value: []byte{}}, {Key: "none"}},
		MetadataWrites: []*kvrwset.KVMetadataWrite{{Key: "m", Entries: []*kvrwset.KVMetadataEntry{{Name: "n", Value: []byte("v")}}}},
	}
	data, err := proto.Marshal(kv)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range [][]byte{data, nil, {}} {
		want, err := writesByProto(d, "ballot")
		if err != nil {
			t.Fatal(err)
		}
		var tx Tx
		if err := decodeWrites(d, "ballot", &tx); err != nil || !reflect.DeepEqual(tx.Writes, want) {
			t.Fatalf("decodeWrites gave %+v, %v; proto.Unmarshal %+v", tx.Writes, err, want)
		}
	}
	if len(data) < 10 {
		t.Fatalf("the set encodes in %d bytes", len(data))
	}
	for cut := range data {
		var tx Tx
		_, perr := writesByProto(data[:cut], "ballot")
		if err := decodeWrites(data[:cut], "ballot", &tx); (err == nil) != (perr == nil) {
			t.Errorf("cut at %d: decodeWrites %v, proto.Unmarshal %v", cut, err, perr)
		}
	}
	bad, _ := proto.Marshal(&kvrwset.KVRWSet{Writes: []*kvrwset.KVWrite{{Key: "ok"}}})
	bad[len(bad)-1] = 0xff // the key's last byte: no longer UTF-8
	var tx Tx
	if _, perr := writesByProto(bad, "ballot"); perr == nil || decodeWrites(bad, "ballot", &tx) == nil {
		t.Errorf("a key that is not UTF-8: proto.Unmarshal %v, decodeWrites accepted it", perr)
	}
}

package chaincode

import (
	"reflect"

	"github.com/go-openapi/spec"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
	"github.com/hyperledger/fabric-contract-api-go/v2/metadata"
	"github.com/hyperledger/fabric-contract-api-go/v2/serializer"
)

// NewChaincode builds the chaincode of the given contracts as
// contractapi.NewChaincode does, with PlainStrings as its transaction
// serializer.
func NewChaincode(contracts ...contractapi.ContractInterface) (*contractapi.ContractChaincode, error) {
	cc, err := contractapi.NewChaincode(contracts...)
	if err != nil {
		return nil, err
	}
	cc.TransactionSerializer = PlainStrings{}
	return cc, nil
}

// PlainStrings is contractapi's JSON serializer (serializer.JSONSerializer)
// without its JSON-schema check of string arguments and string results
// whose schema is the one contractapi gives every Go string, {"type":
// "string"}: that check marshals the whole value to JSON and decodes it
// again (gojsonschema) to find that a string is a string, which every Go
// string is. For CommitBatch that was the 560 KB batch of a 2,000-vote
// transaction, a fifth to a quarter of the chaincode server's CPU
// (docs/ledger.md, "Where the ledger's CPU goes at the ceiling"). Every
// other argument and result, and a string whose schema says more (a
// metadata file's pattern or length), goes through JSONSerializer, checks
// and all; a string argument or result is the same string either way.
type PlainStrings struct{ serializer.JSONSerializer }

var stringType = reflect.TypeFor[string]()

// FromString converts an argument as JSONSerializer.FromString does.
func (s PlainStrings) FromString(param string, fieldType reflect.Type, paramMetadata *metadata.ParameterMetadata, components *metadata.ComponentMetadata) (reflect.Value, error) {
	if fieldType == stringType && (paramMetadata == nil || plainString(paramMetadata.Schema)) {
		return reflect.ValueOf(param), nil
	}
	return s.JSONSerializer.FromString(param, fieldType, paramMetadata, components)
}

// ToString formats a result as JSONSerializer.ToString does.
func (s PlainStrings) ToString(result reflect.Value, resultType reflect.Type, returns *metadata.ReturnMetadata, components *metadata.ComponentMetadata) (string, error) {
	if resultType == stringType && result.Type() == stringType && (returns == nil || plainString(returns.Schema)) {
		return result.String(), nil
	}
	return s.JSONSerializer.ToString(result, resultType, returns, components)
}

// plainString reports whether schema is exactly {"type": "string"}, as
// contractapi derives it for a Go string (spec.StringProperty).
func plainString(schema *spec.Schema) bool {
	return schema != nil && reflect.DeepEqual(*schema, *spec.StringProperty())
}

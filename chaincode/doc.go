// Package chaincode is the ballot ledger's Go chaincode, run as a chaincode
// service (Serve, which also records in a PeerLink what the connecting peer
// advertised; cmd/ballotcc runs one per organisation), with PlainStrings as
// its transaction serializer (NewChaincode).
//
// It holds two contracts. BallotContract ("ballot") has the election's
// transactions: SetupElection, CloseElection and FinaliseElection; LoadRoll
// and SealRoll, which put the voters' roll on the ledger; RegisterLogKeys
// and AnchorLogHeads, for the intake logs' signed tree heads; CommitBatch
// and CommitBatches, which judge and record batches of votes; and the
// read-only lookups clients evaluate (GetEvaluateTransactions). Each
// returns a JSON document, decoded into the ballot package's types.
// ProbeContract ("probe") is a key/value check of the network that never
// touches election data (its keys start with "probe~").
//
// The election's keys are Fabric composite keys built by the ballot package
// (ballot/keys.go): the election record, a record per batch, a key per
// state and nullifier (the roll's mark, then the counted vote's record),
// the roll's chunks and seal, the registered log keys and each state's
// anchored head. docs/ledger.md ("Keys") gives the layout. The rules a
// batch is judged by are ballot's, which the explorer's audit applies again
// to the committed blocks.
//
// A refusal is an error, which fails endorsement, so a refused call never
// reaches a block. It refuses a caller without the role a function
// requires (Commission admin, Commission client, or a batcher the election
// names); an argument that does not decode strictly or exceeds its bound; a
// transaction time more than MaxClockSkew from the peer's clock; a batch
// whose root or tallies are not its votes', or whose election has not
// opened, is finalised or lacks its state; another batch or roll chunk
// under an id already recorded; a changed election once voting opened or a
// batch is committed; roll loading once the roll is sealed or a batch
// committed; a finalise whose batch totals are not the ledger's or fall
// short of an anchored log head's size; and log transactions once the
// election is finalised. A vote the rules reject (not on the sealed roll, a
// used nullifier, cast outside the window) is recorded as rejected with its
// reason and never refuses its batch. A missing record is a
// ballot.NotFound error.
package chaincode

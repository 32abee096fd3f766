// Package ballot is Votechain's domain model, shared by the chaincode, the
// batcher, the gateway and the explorer: voter identity and nullifiers, the
// election record, the canonical vote encoding, RFC 6962 Merkle trees and
// inclusion proofs, the intake log (append-only tree, consistency proofs,
// signed tree heads, acceptance receipts), batches and receipts, the ledger
// key layout, the ledger's vocabulary (a commit's outcome, event positions,
// and the "not found" contract between the chaincode and its clients), and
// the paths of a vote's receipts on the gateway's HTTP API, which the
// gateway and verify must spell alike.
//
// The package is pure: standard library only, no I/O, no clocks except
// where a caller passes a time in. Everything that two parties must compute
// identically (an endorsing peer and an auditor, a batcher and the chaincode)
// is defined here once, byte for byte.
package ballot

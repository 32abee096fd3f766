// Package network defines the Votechain consortium and generates everything a
// Fabric 3.1 network needs to run it natively: the cryptogen and configtxgen
// inputs, per-node peer and orderer configuration (Fabric's own sampleconfig
// with the project's changes applied), the chaincode-as-a-service package, and
// the connection profile that the gateway, batcher and explorer read.
//
// It only produces files; starting and stopping processes is the job of
// test-network/localnet.
package network

//go:build tools

// Package fabricbin pins the Fabric 3.1.1 commands that the test network runs.
// It lives in its own module so the main module does not inherit Fabric's
// dependency tree; `make fabric-bin` builds the commands from it.
package fabricbin

import (
	_ "github.com/hyperledger/fabric/cmd/configtxgen"
	_ "github.com/hyperledger/fabric/cmd/cryptogen"
	_ "github.com/hyperledger/fabric/cmd/orderer"
	_ "github.com/hyperledger/fabric/cmd/osnadmin"
	_ "github.com/hyperledger/fabric/cmd/peer"
)

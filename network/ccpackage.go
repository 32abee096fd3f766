package network

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"
)

// BuilderDir is the project's external builder, relative to the repository
// root: detect, build and release for chaincode-as-a-service packages.
const BuilderDir = "network/builder"

// ChaincodePackage is a chaincode-as-a-service package for one organisation.
type ChaincodePackage struct {
	Label string
	Data  []byte // the .tgz the peer installs
}

// ID is the package id peers know the chaincode by: label and the SHA-256 of
// the package bytes. The chaincode server must present exactly this id.
func (p ChaincodePackage) ID() string {
	sum := sha256.Sum256(p.Data)
	return p.Label + ":" + hex.EncodeToString(sum[:])
}

// ChaincodeLabel names a chaincode build by a digest of its binary, so every
// code change gets a new package id and a deploy can tell if anything changed.
func ChaincodeLabel(binary string) (string, error) {
	f, err := os.Open(binary)
	if err != nil {
		return "", fmt.Errorf("chaincode binary: %w (run `make build`)", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash chaincode binary: %w", err)
	}
	return fmt.Sprintf("%s_%x", ChaincodeName, h.Sum(nil)[:6]), nil
}

// NewChaincodePackage builds the package that points a peer at the chaincode
// service on address. The bytes are deterministic (fixed timestamps and
// modes), so the same label and address always give the same package id.
func NewChaincodePackage(label, address string) (ChaincodePackage, error) {
	conn, err := json.Marshal(map[string]any{
		"address": address, "dial_timeout": "10s", "tls_required": false,
	})
	if err != nil {
		return ChaincodePackage{}, err
	}
	code, err := tarGz(file{"connection.json", conn})
	if err != nil {
		return ChaincodePackage{}, err
	}
	meta, err := json.Marshal(map[string]string{"type": "ccaas", "label": label})
	if err != nil {
		return ChaincodePackage{}, err
	}
	// metadata.json first, as Fabric's own packager writes it.
	pkg, err := tarGz(file{"metadata.json", meta}, file{"code.tar.gz", code})
	if err != nil {
		return ChaincodePackage{}, err
	}
	return ChaincodePackage{Label: label, Data: pkg}, nil
}

type file struct {
	name string
	data []byte
}

// tarGz writes files, in order, into a gzip-compressed tar with fixed metadata.
func tarGz(files ...file) ([]byte, error) {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, f := range files {
		hdr := &tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.data)), ModTime: time.Unix(0, 0), Format: tar.FormatUSTAR}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

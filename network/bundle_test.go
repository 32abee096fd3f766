package network

import (
	"os/exec"
	"strings"
	"testing"
)

// Bundle scripts name files under "$R", the bundle's folder, and quote
// everything else; sh must read the arguments back unchanged.
func TestShellArgsKeepBundleFolderExpandable(t *testing.T) {
	args := []string{sh.GenesisBlock(), "AND('A.peer','B.peer')", "plain", sh.Dir, "with space"}
	script := "R=/opt/vc; for a in " + shellArgs(args...) + `; do printf '%s\n' "$a"; done`
	out, err := exec.Command("sh", "-c", script).Output()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/opt/vc/config/election.block", "AND('A.peer','B.peer')", "plain", "/opt/vc", "with space"}
	if got := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n"); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("sh read %q, want %q", got, want)
	}
}

func TestProfileRelocateMovesOnlyPathsUnderTheFolder(t *testing.T) {
	p := Profile{Orgs: map[string]OrgProfile{"Commission": {
		Peer:  Endpoint{TLSRootPEM: "/run/net/crypto/ca.crt"},
		Users: map[string]Identity{"User1": {Cert: "/run/net/crypto/u.pem", Key: "/elsewhere/u.key"}},
	}}, Orderers: []Endpoint{{TLSRootPEM: "/run/net/crypto/o.pem"}}}
	got := p.relocate("/run/net", "/opt/vc")
	want := []string{"/opt/vc/crypto/ca.crt", "/opt/vc/crypto/u.pem", "/elsewhere/u.key", "/opt/vc/crypto/o.pem"}
	if strings.Join(got.Files(), " ") != strings.Join(want, " ") {
		t.Fatalf("relocated files %v, want %v", got.Files(), want)
	}
	if p.Orgs["Commission"].Peer.TLSRootPEM != "/run/net/crypto/ca.crt" {
		t.Fatal("relocate changed the original profile")
	}
}

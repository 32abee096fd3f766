package network

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadProfileRefusesAnAddressItCannotDial: a peer's or an orderer's
// address that is not HOST:PORT with a port of 1..65535 is refused at once,
// naming the profile, the node and the address (one without a port was
// dialled at port 443, one out of range retried until a timeout); an
// address that can be dialled, reachable or not, loads.
func TestLoadProfileRefusesAnAddressItCannotDial(t *testing.T) {
	with := func(peer, orderer string) Profile {
		return Profile{Orgs: map[string]OrgProfile{
			"Commission": {Peer: Endpoint{Address: "127.0.0.1:27051"}},
			"Observers":  {Peer: Endpoint{Address: peer}},
		}, Orderers: []Endpoint{{Address: "127.0.0.1:27050"}, {Address: orderer}}}
	}
	for _, c := range []struct {
		peer, orderer string
		want          string // the error after the profile's name, or "" to load
	}{
		{"127.0.0.1:1", "[::1]:27060", ""},
		{"peer0.observers:27151", "10.0.0.2:65535", ""},
		{"127.0.0.1", "127.0.0.1:27060", `the Observers peer's address "127.0.0.1" is not HOST:PORT`},
		{":27151", "127.0.0.1:27060", `the Observers peer's address ":27151" is not HOST:PORT`},
		{"", "127.0.0.1:27060", `the Observers peer's address "" is not HOST:PORT`},
		{"127.0.0.1:99999", "127.0.0.1:27060", `the Observers peer's address "127.0.0.1:99999" has port "99999": want 1..65535`},
		{"127.0.0.1:27151", "127.0.0.1:0", `orderer 1's address "127.0.0.1:0" has port "0": want 1..65535`},
		{"127.0.0.1:27151", "127.0.0.1:https", `orderer 1's address "127.0.0.1:https" has port "https"`},
	} {
		path := filepath.Join(t.TempDir(), "profile.json")
		if err := with(c.peer, c.orderer).Save(path); err != nil {
			t.Fatal(err)
		}
		_, err := LoadProfile(path)
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), "connection profile "+path+": "+c.want)) {
			t.Errorf("peer %q, orderer %q: %v; want %q", c.peer, c.orderer, err, c.want)
		}
	}
}

// TestProfileSaysItHoldsNone: an organisation or a user the profile lacks
// is named with what the profile holds, and "no user" when it holds none
// (a component's own profile holds no user of the other organisation): it
// said "it holds )".
func TestProfileSaysItHoldsNone(t *testing.T) {
	p := Profile{Orgs: map[string]OrgProfile{
		"Commission": {},
		"Observers":  {Users: map[string]Identity{"User2": {Cert: "user2.pem"}, "Explorer": {}}},
	}}
	for _, c := range []struct{ org, user, want string }{
		{"Commission", "Admin", `user "Admin" of Commission is not in the connection profile (it holds no user of Commission)`},
		{"Observers", "Admin", `user "Admin" of Observers is not in the connection profile (it holds Explorer, User2)`},
		{"Auditors", "Admin", `organisation "Auditors" is not in the connection profile (it holds Commission, Observers)`},
	} {
		if _, err := p.User(c.org, c.user); err == nil || err.Error() != c.want {
			t.Errorf("%s of %s: %v; want %q", c.user, c.org, err, c.want)
		}
	}
	if _, err := (Profile{}).Org("Commission"); err == nil || !strings.HasSuffix(err.Error(), "(it holds no organisation)") {
		t.Errorf("an empty profile: %v; want it to hold no organisation", err)
	}
	if id, err := p.User("Observers", "User2"); err != nil || id.Cert != "user2.pem" {
		t.Errorf("User2 of Observers: %+v, %v; want its identity", id, err)
	}
}

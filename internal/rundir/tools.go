package rundir

// Votechain returns the votechain program, whose make targets (make up,
// make up REDIS=cluster, make down, make down WIPE=1, make status) act on
// the system in its MakeDir SystemDir, for the advice of any command
// (roll's included) without linking the packages that run it. Each call
// returns a new Tool, so no caller can change the targets for the others.
func Votechain() Tool {
	return Tool{Name: "votechain", MakeDir: SystemDir, MakeTargets: map[string]string{
		"up":                 "make up",
		"up --redis cluster": "make up REDIS=cluster",
		"down":               "make down",
		"down --wipe":        "make down WIPE=1",
		"status":             "make status",
	}}
}

// Vcnet returns the vcnet program, whose make targets (make network-up,
// network-down with WIPE=1 or FORCE=1, network-status) act on the network
// in its MakeDir NetworkDir; a new Tool each call, as Votechain's.
func Vcnet() Tool {
	return Tool{Name: "vcnet", MakeDir: NetworkDir, MakeTargets: map[string]string{
		"up":           "make network-up",
		"down":         "make network-down",
		"down --wipe":  "make network-down WIPE=1",
		"down --force": "make network-down FORCE=1",
		"status":       "make network-status",
	}}
}

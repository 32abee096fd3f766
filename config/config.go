// Package config holds the files the system runs with and operators read:
// the election template (election.json, read by path), the Prometheus alert
// rules with their unit tests (prometheus/), and the Grafana dashboard
// (grafana/). The rules and the dashboard are embedded here so the monitor
// and the explorer's operator page use the very files in the repository.
package config

import _ "embed"

// alertRules is prometheus/alerts.yml (AlertRules).
//
//go:embed prometheus/alerts.yml
var alertRules string

// AlertRules returns prometheus/alerts.yml, the alert rules `make up`
// loads: a new copy at each call, so no caller can change the rules for the
// others.
func AlertRules() []byte { return []byte(alertRules) }

// dashboard is grafana/votechain.json (Dashboard).
//
//go:embed grafana/votechain.json
var dashboard string

// Dashboard returns grafana/votechain.json, a provisioning-ready Grafana
// dashboard whose panels the explorer's operator page draws: a new copy at
// each call, so no caller can change the dashboard for the others.
func Dashboard() []byte { return []byte(dashboard) }

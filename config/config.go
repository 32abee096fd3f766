// Package config holds the files the system runs with and operators read:
// the election template (election.json, read by path), the Prometheus alert
// rules with their unit tests (prometheus/), and the Grafana dashboard
// (grafana/). The rules and the dashboard are embedded here so the monitor
// and the explorer's operator page use the very files in the repository.
package config

import _ "embed"

// AlertRules is prometheus/alerts.yml, the alert rules `make up` loads.
//
//go:embed prometheus/alerts.yml
var AlertRules []byte

// Dashboard is grafana/votechain.json, a provisioning-ready Grafana
// dashboard; the explorer's operator page draws the same panels.
//
//go:embed grafana/votechain.json
var Dashboard []byte

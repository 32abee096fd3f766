package monitor

import (
	"fmt"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Override changes one alert rule of config/prometheus/alerts.yml.
type Override struct {
	Alert string
	// For replaces the rule's `for:` when positive.
	For time.Duration
	// Old, when set, must occur exactly once in the rule's expression and
	// is replaced by New (a threshold: "> 60" by "> 10").
	Old, New string
}

// ruleFile is the shape of a Prometheus rule file.
type ruleFile struct {
	Groups []ruleGroup `yaml:"groups"`
}

type ruleGroup struct {
	Name  string `yaml:"name"`
	Rules []Rule `yaml:"rules"`
}

// Rule is one alerting rule.
type Rule struct {
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for,omitempty"`
	Labels      map[string]string `yaml:"labels,omitempty"`
	Annotations map[string]string `yaml:"annotations,omitempty"`
}

// ParseRules lists the alerting rules of a rule file.
func ParseRules(data []byte) ([]Rule, error) {
	var f ruleFile
	if err := yaml.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("monitor: alert rules: %w", err)
	}
	var out []Rule
	for _, g := range f.Groups {
		out = append(out, g.Rules...)
	}
	return out, nil
}

// Rules applies overrides to a rule file. Without overrides it returns the
// file unchanged; an override naming no rule, or whose Old is not found
// exactly once, is an error.
func Rules(data []byte, overrides []Override) ([]byte, error) {
	if len(overrides) == 0 {
		return data, nil
	}
	var f ruleFile
	if err := yaml.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("monitor: alert rules: %w", err)
	}
	for _, o := range overrides {
		found := false
		for gi := range f.Groups {
			for ri := range f.Groups[gi].Rules {
				r := &f.Groups[gi].Rules[ri]
				if r.Alert != o.Alert {
					continue
				}
				found = true
				if o.For > 0 {
					r.For = model(o.For)
				}
				if o.Old != "" {
					if n := strings.Count(r.Expr, o.Old); n != 1 {
						return nil, fmt.Errorf("monitor: override of %s: %q occurs %d times in %q, want once", o.Alert, o.Old, n, r.Expr)
					}
					r.Expr = strings.Replace(r.Expr, o.Old, o.New, 1)
				}
			}
		}
		if !found {
			return nil, fmt.Errorf("monitor: override of %s: no such alert", o.Alert)
		}
	}
	return yaml.Marshal(f)
}

package monitor

import (
	"encoding/json"
	"fmt"
	"regexp"
)

// Panel is one graph of the Grafana dashboard: what the operator page
// draws with the same expressions.
type Panel struct {
	Title       string
	Description string
	Unit        string // Grafana unit: "short", "s", "percentunit", "bytes"
	Queries     []Query
}

// Query is one expression of a panel with its legend template.
type Query struct {
	Expr   string
	Legend string // Grafana legend format: "{{state}}"
}

// Panels reads the time-series panels of a Grafana dashboard in order.
// Other panel types (the alert list) are left out.
func Panels(dashboard []byte) ([]Panel, error) {
	var d struct {
		Panels []struct {
			Type        string `json:"type"`
			Title       string `json:"title"`
			Description string `json:"description"`
			FieldConfig struct {
				Defaults struct {
					Unit string `json:"unit"`
				} `json:"defaults"`
			} `json:"fieldConfig"`
			Targets []struct {
				Expr         string `json:"expr"`
				LegendFormat string `json:"legendFormat"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(dashboard, &d); err != nil {
		return nil, fmt.Errorf("monitor: dashboard: %w", err)
	}
	var out []Panel
	for _, p := range d.Panels {
		if p.Type != "timeseries" {
			continue
		}
		panel := Panel{Title: p.Title, Description: p.Description, Unit: p.FieldConfig.Defaults.Unit}
		for _, t := range p.Targets {
			if t.Expr == "" {
				return nil, fmt.Errorf("monitor: dashboard panel %q has a target without expr", p.Title)
			}
			panel.Queries = append(panel.Queries, Query{Expr: t.Expr, Legend: t.LegendFormat})
		}
		out = append(out, panel)
	}
	return out, nil
}

var legendVar = regexp.MustCompile(`\{\{\s*(\w+)\s*\}\}`)

// Name renders the legend of one series: {{label}} replaced by its value.
func (q Query) Name(labels map[string]string) string {
	if q.Legend == "" {
		return q.Expr
	}
	return legendVar.ReplaceAllStringFunc(q.Legend, func(m string) string {
		return labels[legendVar.FindStringSubmatch(m)[1]]
	})
}

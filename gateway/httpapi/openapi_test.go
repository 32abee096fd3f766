package httpapi

import (
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/votechain/votechain/ballot"
)

// TestOpenAPIMatchesRoutes keeps openapi.yaml in step with the handlers:
// every gin route is documented and every documented operation is routed,
// which pins the public paths (openapi.yaml spells them); ballot's receipt
// paths are documented ones; every error code the handlers use is in the
// Error schema's enum.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	var doc struct {
		OpenAPI    string                    `yaml:"openapi"`
		Paths      map[string]map[string]any `yaml:"paths"`
		Components struct {
			Schemas struct {
				Error struct {
					Properties struct {
						Error struct {
							Properties struct {
								Code struct {
									Enum []string `yaml:"enum"`
								} `yaml:"code"`
							} `yaml:"properties"`
						} `yaml:"error"`
					} `yaml:"properties"`
				} `yaml:"Error"`
			} `yaml:"schemas"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(openAPI, &doc); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi version %q; want 3.x", doc.OpenAPI)
	}
	var documented []string
	for path, ops := range doc.Paths {
		for method := range ops {
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	f := newFixture(t, fixtureOpts{})
	var routed []string
	for _, r := range f.srv.Routes() {
		routed = append(routed, r.Method+" "+ginToOpenAPIPath(r.Path))
	}
	slices.Sort(documented)
	slices.Sort(routed)
	if !slices.Equal(documented, routed) {
		t.Fatalf("openapi.yaml documents\n  %v\nbut the server routes\n  %v", documented, routed)
	}
	// The receipts' paths as ballot spells them, which the gateway's
	// answers, verify and these tests use, are the documented ones.
	receipt := "GET " + ballot.ReceiptPathPrefix + "{vote_id}"
	for _, op := range []string{receipt, receipt + ballot.AcceptancePathSuffix} {
		if !slices.Contains(documented, op) {
			t.Errorf("ballot's receipt paths give %s; openapi.yaml documents none such", op)
		}
	}
	codes := doc.Components.Schemas.Error.Properties.Error.Properties.Code.Enum
	for _, code := range []string{codeInvalidJSON, codeInvalidField, codeNotEligible, codeElectionClosed, codeNotFound,
		codeMethodNotAllowed, codeDuplicate, codeBodyTooLarge, codeUnsupportedMedia, codeUnknownState,
		codeUnknownContest, codeContestRequired, codeUnknownChoice, codeRateLimited, codeUnavailable, codeOverloaded, codeLedgerUnavailable,
		codeElectionUnavailable, codeNotReady, codeInvalidVoteID, codeNoVote, codeResultsLoading,
		codeLogOff, codeNoHead, codeHeadPending, codeStarting, codeStopping} {
		if !slices.Contains(codes, code) {
			t.Errorf("error code %q missing from the Error schema", code)
		}
	}
	if len(codes) != 27 {
		t.Errorf("Error schema lists %d codes; the handlers use 27", len(codes))
	}
}

// TestOpenAPIStartingAnswers: every operation but /healthz and /metrics
// documents a 503, which a gateway still starting (Front) answers on
// every route but those two.
func TestOpenAPIStartingAnswers(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]struct {
			Responses map[string]any `yaml:"responses"`
		} `yaml:"paths"`
	}
	if err := yaml.Unmarshal(openAPI, &doc); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			_, documented := op.Responses["503"]
			if want := path != "/healthz" && path != "/metrics"; documented != want {
				t.Errorf("%s %s documents a 503: %t; want %t (a starting gateway answers it 503 starting: %t)", strings.ToUpper(method), path, documented, want, want)
			}
		}
	}
}

// TestOpenAPIRequestBodiesMatchDecoders keeps the request schemas in step
// with the strict decoders: the same fields, the same required ones, the
// same length limits.
func TestOpenAPIRequestBodiesMatchDecoders(t *testing.T) {
	type property struct {
		MinLength int `yaml:"minLength"`
		MaxLength int `yaml:"maxLength"`
	}
	type schema struct {
		AdditionalProperties any                 `yaml:"additionalProperties"`
		Required             []string            `yaml:"required"`
		Properties           map[string]property `yaml:"properties"`
	}
	var doc struct {
		Components struct {
			Schemas map[string]schema `yaml:"schemas"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(openAPI, &doc); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	for name, fields := range map[string][]field{"VoteRequest": voteFields, "LookupRequest": lookupFields} {
		sc, ok := doc.Components.Schemas[name]
		if !ok {
			t.Fatalf("schema %s missing", name)
		}
		if sc.AdditionalProperties != false {
			t.Errorf("%s: additionalProperties must be false (unknown fields are refused)", name)
		}
		var required []string
		for _, f := range fields {
			if !f.optional {
				required = append(required, f.name)
			}
			p, ok := sc.Properties[f.name]
			if !ok {
				t.Errorf("%s: field %q not documented", name, f.name)
				continue
			}
			if p.MinLength != 1 || p.MaxLength != f.max {
				t.Errorf("%s.%s: length %d..%d documented, decoder takes 1..%d", name, f.name, p.MinLength, p.MaxLength, f.max)
			}
		}
		if len(sc.Properties) != len(fields) {
			t.Errorf("%s documents %d fields; the decoder reads %d", name, len(sc.Properties), len(fields))
		}
		slices.Sort(required)
		slices.Sort(sc.Required)
		if !slices.Equal(required, sc.Required) {
			t.Errorf("%s: required %v documented, decoder requires %v", name, sc.Required, required)
		}
	}
}

// TestOpenAPIElectionMatchesRecord keeps the Election schema in step with
// the record /api/v1/election serves (ballot.Election's JSON): the same
// fields, the required ones those always encoded.
func TestOpenAPIElectionMatchesRecord(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Required   []string       `yaml:"required"`
				Properties map[string]any `yaml:"properties"`
			} `yaml:"schemas"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(openAPI, &doc); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	sc, ok := doc.Components.Schemas["Election"]
	if !ok {
		t.Fatal("schema Election missing")
	}
	var fields, required []string
	rt := reflect.TypeFor[ballot.Election]()
	for i := range rt.NumField() {
		name, opts, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		fields = append(fields, name)
		if opts == "" {
			required = append(required, name)
		}
	}
	documented := slices.Sorted(maps.Keys(sc.Properties))
	slices.Sort(fields)
	if !slices.Equal(documented, fields) {
		t.Errorf("Election documents %v; the record has %v", documented, fields)
	}
	slices.Sort(required)
	slices.Sort(sc.Required)
	if !slices.Equal(sc.Required, required) {
		t.Errorf("Election: required %v documented, the record always has %v", sc.Required, required)
	}
}

// ginToOpenAPIPath turns gin's ":name" parameters into OpenAPI's "{name}".
func ginToOpenAPIPath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		if strings.HasPrefix(s, ":") || strings.HasPrefix(s, "*") {
			parts[i] = "{" + s[1:] + "}"
		}
	}
	return strings.Join(parts, "/")
}

// TestOpenAPIReadiness keeps /readyz's 200 schema in step with its answer
// (readiness): the same fields, the required ones those always present,
// and the ledger's states.
func TestOpenAPIReadiness(t *testing.T) {
	type prop struct {
		Enum []string `yaml:"enum"`
	}
	var doc struct {
		Paths map[string]map[string]struct {
			Responses map[string]struct {
				Content map[string]struct {
					Schema struct {
						Required   []string        `yaml:"required"`
						Properties map[string]prop `yaml:"properties"`
					} `yaml:"schema"`
				} `yaml:"content"`
			} `yaml:"responses"`
		} `yaml:"paths"`
	}
	if err := yaml.Unmarshal(openAPI, &doc); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	schema := doc.Paths["/readyz"]["get"].Responses["200"].Content["application/json"].Schema
	var fields, required []string
	rt := reflect.TypeFor[readiness]()
	for i := range rt.NumField() {
		name, opts, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		fields = append(fields, name)
		if opts != "omitempty" {
			required = append(required, name)
		}
	}
	documented := slices.Sorted(maps.Keys(schema.Properties))
	slices.Sort(fields)
	slices.Sort(required)
	slices.Sort(schema.Required)
	if !slices.Equal(documented, fields) || !slices.Equal(schema.Required, required) {
		t.Errorf("/readyz 200 documents %v (required %v); the answer has %v (always %v)", documented, schema.Required, fields, required)
	}
	states := []string{ledgerReachable, ledgerUnreachable, ledgerUnknown}
	if got := schema.Properties["ledger"].Enum; !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(states))) {
		t.Errorf("/readyz documents the ledger states %v; the probe reports %v", got, states)
	}
}

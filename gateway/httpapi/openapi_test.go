package httpapi

import (
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestOpenAPIMatchesRoutes keeps openapi.yaml in step with the handlers:
// every gin route is documented and every documented operation is routed;
// every error code the handlers use is in the Error schema's enum.
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
	codes := doc.Components.Schemas.Error.Properties.Error.Properties.Code.Enum
	for _, code := range []string{codeInvalidJSON, codeInvalidField, codeNotEligible, codeElectionClosed, codeNotFound,
		codeMethodNotAllowed, codeDuplicate, codeBodyTooLarge, codeUnsupportedMedia, codeUnknownState,
		codeUnknownCandidate, codeRateLimited, codeUnavailable, codeOverloaded, codeLedgerUnavailable,
		codeElectionUnavailable, codeNotReady, codeInvalidVoteID, codeNoVote, codeResultsLoading,
		codeLogOff, codeNoHead, codeHeadPending} {
		if !slices.Contains(codes, code) {
			t.Errorf("error code %q missing from the Error schema", code)
		}
	}
	if len(codes) != 23 {
		t.Errorf("Error schema lists %d codes; the handlers use 23", len(codes))
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

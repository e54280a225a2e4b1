// Package e2e runs the E2E scenarios of resources/connect/e2e.json over the
// NYC-taxi-like temp views trips and zones. It does not judge the answers:
// it records the rows and Testbed's Python side compares them with DuckDB.
package e2e

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"testbed.local/connect/client"
)

// defaultScenarios is e2e.json relative to this package, for runs without
// TESTBED_E2E.
const defaultScenarios = "../../../resources/connect/e2e.json"

type scenario struct {
	Name        string        `json:"name"`
	Category    string        `json:"category"`
	SQL         string        `json:"sql"`
	ExpectError string        `json:"expect_error"`
	Unsupported []unsupported `json:"unsupported"`
}

type unsupported struct {
	Client   string `json:"client"`   // "go", "python" or "*"
	Versions string `json:"versions"` // "*" or a version prefix such as "3.5"
	Reason   string `json:"reason"`
}

func loadScenarios(path string) ([]scenario, error) {
	if path == "" {
		path = defaultScenarios
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var file struct {
		Scenarios []scenario `json:"scenarios"`
	}
	err = json.Unmarshal(data, &file)
	return file.Scenarios, err
}

// unsupportedReason returns why sc cannot run on the Go client against
// version, if an unsupported entry says so.
func (sc scenario) unsupportedReason(version string) (string, bool) {
	for _, u := range sc.Unsupported {
		if (u.Client == "go" || u.Client == "*") && versionMatches(u.Versions, version) {
			return u.Reason, true
		}
	}
	return "", false
}

// versionMatches reports whether version has the dotted prefix pattern:
// "3.5" matches "3.5" and "3.5.7" but not "3.50.0".
func versionMatches(pattern, version string) bool {
	return pattern == "*" || version == pattern || strings.HasPrefix(version, pattern+".")
}

// openTaxiSession opens a session with the views trips and zones.
func openTaxiSession(ctx context.Context, env client.Env) (*client.Session, error) {
	s, err := client.Connect(ctx, env.Remote)
	if err != nil {
		return nil, err
	}
	if err := s.RegisterTaxiViews(ctx, env.Data); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func TestVersionMatches(t *testing.T) {
	for _, c := range []struct {
		pattern, version string
		want             bool
	}{
		{"*", "4.1.0", true}, {"*", "", true}, {"3.5", "3.5.7", true}, {"3.5", "3.5", true},
		{"3.5", "4.1.0", false}, {"3.5", "3.50.1", false}, {"3.5", "", false}, {"4", "4.1.0", true},
	} {
		if got := versionMatches(c.pattern, c.version); got != c.want {
			t.Errorf("versionMatches(%q, %q) = %v, want %v", c.pattern, c.version, got, c.want)
		}
	}
}

func TestScenarioFile(t *testing.T) {
	path := client.ReadEnv().E2E
	scenarios, err := loadScenarios(path)
	if os.IsNotExist(err) {
		t.Skip("no e2e.json:", err)
	} else if err != nil {
		t.Fatal(err)
	}
	if len(scenarios) == 0 {
		t.Fatal("no scenarios")
	}
	seen := map[string]bool{}
	for _, sc := range scenarios {
		if sc.Name == "" || sc.SQL == "" || seen[sc.Name] {
			t.Errorf("bad or duplicate scenario %+v", sc)
		}
		seen[sc.Name] = true
		for _, u := range sc.Unsupported {
			if u.Client != "go" && u.Client != "python" && u.Client != "*" || u.Versions == "" || u.Reason == "" {
				t.Errorf("%s: bad unsupported entry %+v", sc.Name, u)
			}
		}
	}
}

func TestJudge(t *testing.T) {
	rows := [][]any{{int64(1)}}
	boom := errorString("execution error: [DIVIDE_BY_ZERO] Division by zero.")
	for _, c := range []struct {
		sc     scenario
		rows   [][]any
		err    error
		status string
	}{
		{scenario{}, rows, nil, client.Passed},
		{scenario{}, [][]any{}, nil, client.Passed},
		{scenario{}, nil, boom, client.Failed},
		{scenario{ExpectError: "DIVIDE_BY_ZERO"}, nil, boom, client.Passed},
		{scenario{ExpectError: "DIVIDE_BY_ZERO"}, rows, nil, client.Failed},
		{scenario{ExpectError: "TABLE_OR_VIEW_NOT_FOUND"}, nil, boom, client.Failed},
	} {
		status, got, msg := judge(c.sc, c.rows, c.err)
		if status != c.status {
			t.Errorf("judge(%+v, %v, %v) = %s (%s), want %s", c.sc, c.rows, c.err, status, msg, c.status)
		}
		if status == client.Passed && c.err == nil && got == nil {
			t.Errorf("passed query without rows: %v", c.rows)
		}
	}
}

type errorString string

func (e errorString) Error() string { return string(e) }

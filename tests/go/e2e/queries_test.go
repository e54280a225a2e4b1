package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"testbed.local/connect/client"
)

func TestQueries(t *testing.T) {
	env := client.ReadEnv()
	env.RequireRemote(t)
	if env.Data == "" {
		t.Skip("TESTBED_DATA is not set: needs the parquet directories trips/ and zones/")
	}
	scenarios, err := loadScenarios(env.E2E)
	if err != nil {
		t.Fatalf("loading scenarios: %v", err)
	}
	ctx, cancel := env.Context()
	s, openErr := openTaxiSession(ctx, env)
	cancel()
	if openErr == nil {
		defer s.Close()
	} else {
		openErr = fmt.Errorf("opening a session with the views trips and zones: %w", openErr)
	}

	for _, sc := range scenarios {
		t.Run(sc.Name, func(t *testing.T) {
			r := client.Result{Suite: "e2e", Scenario: sc.Name}
			if reason, ok := sc.unsupportedReason(env.SparkVersion); ok {
				r.Status, r.Reason = client.Unsupported, reason
				env.Record(t, r)
				return
			}
			start := time.Now()
			var got [][]any
			err := openErr
			if err == nil {
				ctx, cancel := env.Context()
				got, err = s.Rows(ctx, sc.SQL)
				cancel()
			}
			r.Seconds = time.Since(start).Seconds()
			r.Status, r.Rows, r.Error = judge(sc, got, err)
			env.Record(t, r)
		})
	}
}

// judge decides the status only from what arrived; the answers themselves
// are compared by the Python side.
func judge(sc scenario, got [][]any, err error) (status string, rows [][]any, msg string) {
	switch {
	case sc.ExpectError == "" && err == nil:
		return client.Passed, got, ""
	case sc.ExpectError == "":
		return client.Failed, nil, err.Error()
	case err == nil:
		return client.Failed, nil, fmt.Sprintf("expected an error containing %s, got %d rows", sc.ExpectError, len(got))
	case strings.Contains(err.Error(), sc.ExpectError):
		return client.Passed, nil, err.Error()
	default:
		return client.Failed, nil, fmt.Sprintf("expected an error containing %s, got: %v", sc.ExpectError, err)
	}
}

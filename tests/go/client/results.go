package client

import (
	"encoding/json"
	"math"
	"os"
	"testing"
)

// Result statuses.
const (
	Passed      = "passed"
	Failed      = "failed"
	Unsupported = "unsupported"
)

// Result is one line of the TESTBED_RESULTS file.
type Result struct {
	Client   string             `json:"client"`
	Suite    string             `json:"suite"`
	Scenario string             `json:"scenario"`
	Version  string             `json:"version"`
	Status   string             `json:"status"`
	Seconds  float64            `json:"seconds"`
	Rows     [][]any            `json:"-"` // written by MarshalJSON
	Error    string             `json:"error,omitempty"`
	Reason   string             `json:"reason,omitempty"`
	Metrics  map[string]float64 `json:"metrics,omitempty"`
}

// MarshalJSON writes rows when they are non-nil, even if empty: an e2e query
// that returns no rows must still say "rows": []. Non-finite metrics are
// dropped because JSON cannot carry them.
func (r Result) MarshalJSON() ([]byte, error) {
	type plain Result
	out := struct {
		plain
		Rows *[][]any `json:"rows,omitempty"`
	}{plain: plain(r)}
	if r.Rows != nil {
		out.Rows = &r.Rows
	}
	if r.Metrics != nil {
		out.Metrics = make(map[string]float64, len(r.Metrics))
		for k, v := range r.Metrics {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				out.Metrics[k] = v
			}
		}
	}
	return json.Marshal(out)
}

// AppendResult appends r as one JSON line to path. It opens the file with
// O_APPEND and writes the line in one call, so concurrent writers (goroutines
// or the parallel test binaries of `go test ./...`) never interleave lines.
func AppendResult(path string, r Result) error {
	line, err := json.Marshal(r)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(append(line, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Record completes r (client, version), appends it to e.Results when set,
// and fails t when r failed, so that `go test` exits honestly.
func (e Env) Record(t testing.TB, r Result) {
	t.Helper()
	r.Client, r.Version = "go", e.SparkVersion
	if e.Results != "" {
		if err := AppendResult(e.Results, r); err != nil {
			t.Errorf("writing result: %v", err)
		}
	}
	if len(r.Metrics) > 0 {
		t.Logf("%s/%s metrics: %v", r.Suite, r.Scenario, r.Metrics)
	}
	switch r.Status {
	case Failed:
		t.Errorf("%s/%s failed: %s", r.Suite, r.Scenario, r.Error)
	case Unsupported:
		t.Logf("%s/%s unsupported: %s", r.Suite, r.Scenario, r.Reason)
	case Passed:
		t.Logf("%s/%s passed in %.3fs", r.Suite, r.Scenario, r.Seconds)
	}
}

package client

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestResultJSON(t *testing.T) {
	for _, c := range []struct {
		r    Result
		want string
	}{
		{Result{Status: Passed}, `"rows"`},
		{Result{Status: Passed, Rows: [][]any{}}, `"rows":[]`},
		{Result{Status: Passed, Rows: [][]any{{int64(1), nil}}}, `"rows":[[1,null]]`},
		{Result{Metrics: map[string]float64{"p50_ms": math.NaN(), "qps": 2}}, `"metrics":{"qps":2}`},
	} {
		b, err := json.Marshal(c.r)
		if err != nil {
			t.Fatal(err)
		}
		has := strings.Contains(string(b), c.want)
		if c.r.Rows == nil && c.want == `"rows"` {
			has = !has // nil rows: the key must be absent
		}
		if !has {
			t.Errorf("%s: want %s", b, c.want)
		}
	}
}

func TestAppendResultConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.jsonl")
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := Result{Scenario: strings.Repeat("x", i*100), Status: Passed}
			if err := AppendResult(path, r); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) != 50 {
		t.Fatalf("%d lines, want 50", len(lines))
	}
	for _, l := range lines {
		var r Result
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Errorf("bad line %q: %v", l, err)
		}
	}
}

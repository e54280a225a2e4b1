package client

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	v := make([]float64, 100)
	for i := range v {
		v[i] = float64(i + 1)
	}
	for p, want := range map[float64]float64{0: 1, 50: 50.5, 95: 95.05, 99: 99.01, 100: 100} {
		if got := Percentile(v, p); math.Abs(got-want) > 1e-9 {
			t.Errorf("Percentile(1..100, %v) = %v, want %v", p, got, want)
		}
	}
	if got := Percentile([]float64{3}, 99); got != 3 {
		t.Errorf("single value: %v", got)
	}
	if !math.IsNaN(Percentile(nil, 50)) {
		t.Error("empty: want NaN")
	}
}

func TestLoadRunWithoutServer(t *testing.T) {
	st, err := Load{Workers: 1, Duration: 50 * time.Millisecond, Timeout: time.Second,
		Op: func(ctx context.Context, _ *Session, iter int) (int, error) {
			if iter%2 == 1 {
				return 0, errors.New("boom")
			}
			time.Sleep(time.Millisecond)
			return 10, nil
		}}.Run(context.Background())
	if err != nil || st.Queries == 0 || st.Errors == 0 || st.Rows != int64(10*st.Queries) {
		t.Fatalf("Run = %+v, %v", st, err)
	}
	m := st.Metrics()
	for _, k := range []string{"queries", "errors", "seconds", "qps", "p50_ms", "p95_ms", "p99_ms", "client_cpu_ms_per_query", "client_rss_mb"} {
		if _, ok := m[k]; !ok {
			t.Errorf("metric %s missing", k)
		}
	}
	if _, err := (Load{Workers: 1, Duration: 10 * time.Millisecond, Timeout: time.Second,
		Op: func(context.Context, *Session, int) (int, error) { return 0, errors.New("down") }}).Run(context.Background()); err == nil {
		t.Error("want an error when nothing succeeds")
	}
}

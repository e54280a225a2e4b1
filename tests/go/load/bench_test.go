package load

import (
	"sync/atomic"
	"testing"

	"testbed.local/connect/client"
)

// benchParallel runs q on b.RunParallel's goroutines, each with its own
// session. go test -bench . -run '^$' ./load
func benchParallel(b *testing.B, q string, data bool) {
	env := client.ReadEnv()
	env.RequireRemote(b)
	if data && env.Data == "" {
		b.Skip("TESTBED_DATA is not set")
	}
	open, op := opener(env, data), query(q)
	var rows atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		ctx, cancel := env.Context()
		s, err := open(ctx)
		cancel()
		if err != nil {
			b.Error(err)
			return
		}
		defer s.Close()
		for pb.Next() {
			ctx, cancel := env.Context()
			n, err := op(ctx, s, 0)
			cancel()
			if err != nil {
				b.Error(err)
				return
			}
			rows.Add(int64(n))
		}
	})
	b.ReportMetric(float64(rows.Load())/float64(b.N), "rows/op")
}

func BenchmarkCountQuery(b *testing.B)   { benchParallel(b, countQuery, false) }
func BenchmarkScanQuery(b *testing.B)    { benchParallel(b, scanQuery, true) }
func BenchmarkLargeCollect(b *testing.B) { benchParallel(b, collectQuery, true) }

func BenchmarkSessionChurn(b *testing.B) {
	env := client.ReadEnv()
	env.RequireRemote(b)
	op := churn(env)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			ctx, cancel := env.Context()
			_, err := op(ctx, nil, 0)
			cancel()
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// Package load measures the Go client under load: concurrent sessions,
// scans, a sustained mix, session churn and a large collect. Every scenario
// stops by itself after its duration. It reports numbers; Testbed's Python
// side judges them against its budgets.
package load

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"testbed.local/connect/client"
)

const (
	countQuery   = "SELECT COUNT(*) FROM range(1000)"
	scanQuery    = "SELECT payment_type, COUNT(*) FROM trips GROUP BY payment_type"
	collectQuery = "SELECT * FROM trips LIMIT 50000"
)

type scenario struct {
	name      string
	workers   int
	data      bool // needs the views trips and zones
	sustained bool // runs for TESTBED_SUSTAINED_SECONDS instead of TESTBED_LOAD_SECONDS
	churn     bool // every operation opens and closes its own session
	op        func(ctx context.Context, s *client.Session, iter int) (int, error)
}

var scenarios = []scenario{
	{name: "concurrent_1", workers: 1, op: query(countQuery)},
	{name: "concurrent_8", workers: 8, op: query(countQuery)},
	{name: "concurrent_32", workers: 32, op: query(countQuery)},
	{name: "scan_1", workers: 1, data: true, op: query(scanQuery)},
	{name: "scan_8", workers: 8, data: true, op: query(scanQuery)},
	{name: "sustained", workers: 4, data: true, sustained: true, op: alternate(countQuery, scanQuery)},
	{name: "session_churn", workers: 1, churn: true},
	{name: "large_collect", workers: 1, data: true, op: query(collectQuery)},
}

func query(q string) func(context.Context, *client.Session, int) (int, error) {
	return func(ctx context.Context, s *client.Session, _ int) (int, error) {
		rows, err := s.Rows(ctx, q)
		return len(rows), err
	}
}

func alternate(a, b string) func(context.Context, *client.Session, int) (int, error) {
	qa, qb := query(a), query(b)
	return func(ctx context.Context, s *client.Session, iter int) (int, error) {
		if iter%2 == 0 {
			return qa(ctx, s, iter)
		}
		return qb(ctx, s, iter)
	}
}

// opener returns the per-worker session factory: a session with the taxi
// views, or one warmed up by a first query so that gRPC's lazy dial is not
// part of the measured latencies.
func opener(env client.Env, data bool) func(context.Context) (*client.Session, error) {
	return func(ctx context.Context) (*client.Session, error) {
		s, err := client.Connect(ctx, env.Remote)
		if err != nil {
			return nil, err
		}
		if data {
			err = s.RegisterTaxiViews(ctx, env.Data)
		} else {
			err = s.Exec(ctx, "SELECT 1")
		}
		if err != nil {
			s.Close()
			return nil, err
		}
		return s, nil
	}
}

// churn is one session_churn operation: connect, SELECT 1, close.
func churn(env client.Env) func(context.Context, *client.Session, int) (int, error) {
	return func(ctx context.Context, _ *client.Session, _ int) (int, error) {
		s, err := client.Connect(ctx, env.Remote)
		if err != nil {
			return 0, err
		}
		defer s.Close()
		rows, err := s.Rows(ctx, "SELECT 1")
		if err != nil {
			return 0, err
		}
		return len(rows), s.Close()
	}
}

func TestLoad(t *testing.T) {
	env := client.ReadEnv()
	env.RequireRemote(t)
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			if sc.data && env.Data == "" {
				t.Skip("TESTBED_DATA is not set: needs the parquet directories trips/ and zones/")
			}
			start := time.Now()
			r := client.Result{Suite: "load", Scenario: sc.name, Status: client.Passed}
			metrics, err := run(env, sc)
			r.Seconds, r.Metrics = time.Since(start).Seconds(), metrics
			if err != nil {
				r.Status, r.Error = client.Failed, err.Error()
			}
			env.Record(t, r)
		})
	}
}

func run(env client.Env, sc scenario) (map[string]float64, error) {
	l := client.Load{Workers: sc.workers, Duration: env.Load, Timeout: env.Timeout, Op: sc.op}
	if sc.sustained {
		l.Duration = env.Sustained
	}
	if !sc.churn {
		l.Open = opener(env, sc.data)
		st, err := l.Run(context.Background())
		m := st.Metrics()
		if sc.name == "large_collect" {
			m["rows_per_second"] = math.Round(float64(st.Rows) / st.Elapsed.Seconds())
		}
		return m, runErr(err)
	}

	// session_churn: also check that the closed sessions left no socket.
	port, err := client.RemotePort(env.Remote)
	if err != nil {
		return nil, err
	}
	before, err := client.EstablishedSockets(port)
	if err != nil {
		return nil, err
	}
	l.Op = churn(env)
	st, err := l.Run(context.Background())
	m := st.Metrics()
	after, serr := client.WaitSockets(port, before, 3*time.Second)
	if serr != nil {
		return m, serr
	}
	m["leaked_sockets"] = float64(max(after-before, 0))
	return m, runErr(err)
}

func runErr(err error) error {
	if err != nil {
		return fmt.Errorf("could not run: %w", err)
	}
	return nil
}

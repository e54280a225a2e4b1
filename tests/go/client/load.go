package client

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"
)

// Load runs Op in a loop on Workers goroutines for Duration. Every worker
// gets its own session from Open; all sessions are opened before the clock
// starts, and closed after.
type Load struct {
	Workers  int
	Duration time.Duration
	Timeout  time.Duration // per Open and per Op call
	// Open returns a worker's session. Nil means Op manages its own sessions
	// (and receives nil).
	Open func(ctx context.Context) (*Session, error)
	// Op runs a worker's iter-th operation and returns how many rows it read.
	Op func(ctx context.Context, s *Session, iter int) (rows int, err error)
}

// LoadStats is what a Load run measured.
type LoadStats struct {
	Queries   int             // successful operations
	Errors    int             // failed operations (including failed Opens)
	Rows      int64           // rows read by successful operations
	Elapsed   time.Duration   // the timed phase
	Latencies []time.Duration // of successful operations, sorted
	CPU       time.Duration   // process CPU time used in the timed phase
	RSSMB     float64         // VmRSS at the end of the timed phase
	FirstErr  error
}

// Run runs the load. It returns an error only when it could not run at all:
// no worker could open a session, or no operation succeeded.
func (l Load) Run(ctx context.Context) (LoadStats, error) {
	var (
		st       LoadStats
		mu       sync.Mutex
		sessions = make([]*Session, l.Workers)
	)
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		st.Errors++
		if st.FirstErr == nil {
			st.FirstErr = err
		}
	}
	defer func() {
		for _, s := range sessions {
			if s != nil {
				_ = s.Close()
			}
		}
	}()

	if l.Open != nil {
		var wg sync.WaitGroup
		for w := range sessions {
			wg.Add(1)
			go func() {
				defer wg.Done()
				octx, cancel := context.WithTimeout(ctx, l.Timeout)
				defer cancel()
				s, err := l.Open(octx)
				if err != nil {
					fail(fmt.Errorf("open session: %w", err))
					return
				}
				sessions[w] = s
			}()
		}
		wg.Wait()
		if st.Errors == l.Workers {
			return st, st.FirstErr
		}
	}

	cpu0, start := CPUTime(), time.Now()
	deadline := start.Add(l.Duration)
	var wg sync.WaitGroup
	for _, s := range sessions {
		if l.Open != nil && s == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			var rows int64
			for iter := 0; time.Now().Before(deadline) && ctx.Err() == nil; iter++ {
				octx, cancel := context.WithTimeout(ctx, l.Timeout)
				t0 := time.Now()
				n, err := l.Op(octx, s, iter)
				d := time.Since(t0)
				cancel()
				if err != nil {
					fail(err)
					// A server that fails fast (e.g. gone) must not turn the
					// loop into a busy spin of millions of errors.
					time.Sleep(10 * time.Millisecond)
					continue
				}
				lat = append(lat, d)
				rows += int64(n)
			}
			mu.Lock()
			st.Latencies = append(st.Latencies, lat...)
			st.Rows += rows
			mu.Unlock()
		}()
	}
	wg.Wait()
	st.Elapsed, st.CPU = time.Since(start), CPUTime()-cpu0
	st.RSSMB, _ = RSSMB()
	st.Queries = len(st.Latencies)
	slices.Sort(st.Latencies)
	if st.Queries == 0 {
		if st.FirstErr == nil {
			st.FirstErr = errors.New("no operation completed")
		}
		return st, st.FirstErr
	}
	return st, nil
}

// Metrics returns the load metrics of a result line.
func (st LoadStats) Metrics() map[string]float64 {
	ms := make([]float64, len(st.Latencies))
	for i, d := range st.Latencies {
		ms[i] = float64(d.Microseconds()) / 1000
	}
	secs := st.Elapsed.Seconds()
	m := map[string]float64{
		"queries":       float64(st.Queries),
		"errors":        float64(st.Errors),
		"seconds":       round3(secs),
		"qps":           round3(float64(st.Queries) / secs),
		"p50_ms":        round3(Percentile(ms, 50)),
		"p95_ms":        round3(Percentile(ms, 95)),
		"p99_ms":        round3(Percentile(ms, 99)),
		"client_rss_mb": round3(st.RSSMB),
	}
	if st.Queries > 0 {
		m["client_cpu_ms_per_query"] = round3(float64(st.CPU.Microseconds()) / 1000 / float64(st.Queries))
	}
	return m
}

// Percentile returns the p-th percentile (0-100) of sorted values, linearly
// interpolated between the closest ranks (NumPy's default); NaN when empty.
func Percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	rank := p / 100 * float64(len(sorted)-1)
	lo := int(math.Floor(rank))
	hi := min(lo+1, len(sorted)-1)
	return sorted[lo] + (sorted[hi]-sorted[lo])*(rank-float64(lo))
}

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }

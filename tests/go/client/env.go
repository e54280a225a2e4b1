package client

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"
)

// Env is the configuration Testbed passes to the Go suites through
// environment variables (see docs/go-client/README.md).
type Env struct {
	Remote       string // SPARK_REMOTE, e.g. sc://127.0.0.1:15002
	SparkVersion string // TESTBED_SPARK_VERSION, e.g. 3.5.7
	Results      string // TESTBED_RESULTS: JSON-lines file; "" means don't write
	E2E          string // TESTBED_E2E: path of e2e.json
	Data         string // TESTBED_DATA: directory holding trips/ and zones/
	DeadRemote   string // TESTBED_DEAD_REMOTE: a remote where nothing listens

	Load      time.Duration // TESTBED_LOAD_SECONDS, default 5s
	Sustained time.Duration // TESTBED_SUSTAINED_SECONDS, default Load
	Timeout   time.Duration // TESTBED_TIMEOUT_SECONDS, default 30s: every client call
}

// NoRemote is the skip message of every test that needs a server.
const NoRemote = "SPARK_REMOTE is not set: needs a Spark Connect server (Testbed's connect suites set it)"

// ReadEnv reads Env from the environment, applying the defaults.
func ReadEnv() Env {
	e := Env{
		Remote:       os.Getenv("SPARK_REMOTE"),
		SparkVersion: os.Getenv("TESTBED_SPARK_VERSION"),
		Results:      os.Getenv("TESTBED_RESULTS"),
		E2E:          os.Getenv("TESTBED_E2E"),
		Data:         os.Getenv("TESTBED_DATA"),
		DeadRemote:   os.Getenv("TESTBED_DEAD_REMOTE"),
		Load:         seconds("TESTBED_LOAD_SECONDS", 5*time.Second),
		Timeout:      seconds("TESTBED_TIMEOUT_SECONDS", 30*time.Second),
	}
	e.Sustained = seconds("TESTBED_SUSTAINED_SECONDS", e.Load)
	return e
}

func seconds(name string, def time.Duration) time.Duration {
	f, err := strconv.ParseFloat(os.Getenv(name), 64)
	if err != nil || f <= 0 {
		return def
	}
	return time.Duration(f * float64(time.Second))
}

// RequireRemote skips t when no server is configured.
func (e Env) RequireRemote(t testing.TB) {
	t.Helper()
	if e.Remote == "" {
		t.Skip(NoRemote)
	}
}

// Context returns a context bounded by the client call timeout.
func (e Env) Context() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), e.Timeout)
}

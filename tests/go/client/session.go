package client

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"

	"github.com/apache/spark-connect-go/spark/sql"
	"github.com/apache/spark-connect-go/spark/sql/types"
	"google.golang.org/grpc"
)

// Session is an upstream SparkSession plus the gRPC connection behind it.
// Use Close, not Stop: upstream Stop() does nothing.
type Session struct {
	sql.SparkSession
	conn      *grpc.ClientConn
	closeOnce sync.Once
	closeErr  error
}

// Close stops the session and closes its gRPC connection. It is safe to call
// more than once.
func (s *Session) Close() error {
	s.closeOnce.Do(func() {
		// Keep the upstream call so that a future real Stop() is honoured.
		err := s.SparkSession.Stop()
		if s.conn != nil {
			if cerr := s.conn.Close(); err == nil {
				err = cerr
			}
		}
		s.closeErr = err
	})
	return s.closeErr
}

// Exec runs a statement (DDL, SET, ...) for its side effects; upstream's Sql
// executes commands eagerly.
func (s *Session) Exec(ctx context.Context, query string) error {
	_, err := s.Sql(ctx, query)
	return err
}

// Rows runs a query and returns its rows as plain JSON values (see Value).
func (s *Session) Rows(ctx context.Context, query string) ([][]any, error) {
	df, err := s.Sql(ctx, query)
	if err != nil {
		return nil, err
	}
	return Collect(ctx, df)
}

// CreateDataFrame is upstream's CreateDataFrame, but a Go value of the wrong
// type (e.g. int64 for a LONG column, which upstream wants as int) is
// returned as an error instead of panicking.
func (s *Session) CreateDataFrame(ctx context.Context, data [][]any, schema *types.StructType) (df sql.DataFrame, err error) {
	defer func() {
		if r := recover(); r != nil {
			df, err = nil, fmt.Errorf("CreateDataFrame: %v", r)
		}
	}()
	return s.SparkSession.CreateDataFrame(ctx, data, schema)
}

// RegisterTaxiViews creates the temporary views trips and zones over the
// parquet directories dataDir/trips and dataDir/zones. Temporary views belong
// to one session, so every session that queries them must call this.
func (s *Session) RegisterTaxiViews(ctx context.Context, dataDir string) error {
	for _, name := range []string{"trips", "zones"} {
		path := strings.ReplaceAll(filepath.Join(dataDir, name), `'`, `\'`)
		q := fmt.Sprintf("CREATE OR REPLACE TEMPORARY VIEW %s USING parquet OPTIONS (path '%s')", name, path)
		if err := s.Exec(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

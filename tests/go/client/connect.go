// Package client is a small layer over spark-connect-go used by Testbed's Go
// test suites: it opens sessions that can really be closed, collects results
// as plain JSON values, reads the suites' environment and writes their result
// lines.
package client

import (
	"context"
	"fmt"
	"net/url"
	"strconv"

	"github.com/apache/spark-connect-go/spark/client/channel"
	"github.com/apache/spark-connect-go/spark/sql"
	"google.golang.org/grpc"
)

// recordingBuilder remembers the *grpc.ClientConn it builds. Upstream's
// SparkSession.Stop() is a no-op and the session never exposes its
// connection, so this is the only way to close the socket afterwards.
type recordingBuilder struct {
	channel.Builder
	conn *grpc.ClientConn
}

func (b *recordingBuilder) Build(ctx context.Context) (*grpc.ClientConn, error) {
	conn, err := b.Builder.Build(ctx)
	b.conn = conn
	return conn, err
}

// Connect opens a session to remote (sc://host:port). gRPC dials lazily, so
// an unreachable server is only reported by the first query.
func Connect(ctx context.Context, remote string) (*Session, error) {
	base, err := channel.NewBuilder(remote)
	if err != nil {
		return nil, fmt.Errorf("bad remote %q: %w", remote, err)
	}
	b := &recordingBuilder{Builder: base}
	spark, err := sql.NewSessionBuilder().Remote(remote).WithChannelBuilder(b).Build(ctx)
	if err != nil {
		if b.conn != nil {
			_ = b.conn.Close()
		}
		return nil, err
	}
	return &Session{SparkSession: spark, conn: b.conn}, nil
}

// RemotePort returns the TCP port of an sc:// remote (15002 when it has none,
// as upstream assumes).
func RemotePort(remote string) (int, error) {
	u, err := url.Parse(remote)
	if err != nil {
		return 0, err
	}
	if u.Port() == "" {
		return 15002, nil
	}
	return strconv.Atoi(u.Port())
}

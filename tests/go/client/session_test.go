package client

import (
	"context"
	"testing"

	"github.com/apache/spark-connect-go/spark/sql/types"
)

// No server needed: gRPC dials lazily and CreateDataFrame builds its plan
// locally.
func TestSessionWithoutServer(t *testing.T) {
	s, err := Connect(context.Background(), "sc://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	if s.conn == nil {
		t.Fatal("the recording builder did not capture the connection")
	}
	schema := types.StructOf(types.NewStructField("n", types.LONG))
	if _, err := s.CreateDataFrame(context.Background(), [][]any{{int64(1)}}, schema); err == nil {
		t.Error("int64 for LONG: want an error instead of upstream's panic")
	}
	if _, err := s.CreateDataFrame(context.Background(), [][]any{{1}}, schema); err != nil {
		t.Errorf("int for LONG: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := Connect(context.Background(), "http://x"); err == nil {
		t.Error("want an error for a non-sc remote")
	}
}

func TestRemotePort(t *testing.T) {
	for remote, want := range map[string]int{"sc://127.0.0.1:15099": 15099, "sc://host": 15002, "sc://h:1/;user_id=a": 1} {
		if got, err := RemotePort(remote); err != nil || got != want {
			t.Errorf("RemotePort(%q) = %d, %v; want %d", remote, got, err, want)
		}
	}
}

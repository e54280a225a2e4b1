// Dataframe: filter and group with the DataFrame API.
//
//	SPARK_REMOTE=sc://127.0.0.1:15002 go run ./examples/dataframe
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/apache/spark-connect-go/spark/sql/functions"
	"testbed.local/connect/client"
)

func main() {
	if err := run(os.Getenv("SPARK_REMOTE")); err != nil {
		log.Fatal(err)
	}
}

func run(remote string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	s, err := client.Connect(ctx, remote)
	if err != nil {
		return err
	}
	defer s.Close()

	df, err := s.Sql(ctx, "SELECT id, id % 3 AS bucket FROM range(100)")
	if err != nil {
		return err
	}
	big, err := df.Filter(ctx, functions.Col("id").Ge(functions.Int64Lit(50)))
	if err != nil {
		return err
	}
	counts, err := big.GroupBy(functions.Col("bucket")).Count(ctx)
	if err != nil {
		return err
	}
	// OrderBy needs an explicit direction: Asc() or Desc().
	sorted, err := counts.OrderBy(ctx, functions.Col("bucket").Asc())
	if err != nil {
		return err
	}
	rows, err := client.Collect(ctx, sorted)
	if err != nil {
		return err
	}
	for _, row := range rows {
		fmt.Printf("bucket %v: %v rows\n", row[0], row[1])
	}
	return nil
}

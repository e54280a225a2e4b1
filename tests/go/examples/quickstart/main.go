// Quickstart: connect to a Spark Connect server, run SQL, print the rows.
//
//	SPARK_REMOTE=sc://127.0.0.1:15002 go run ./examples/quickstart
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

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
	// Close really closes the gRPC connection; upstream Stop() does not.
	defer s.Close()

	rows, err := s.Rows(ctx, "SELECT id, id * id AS square FROM range(5)")
	if err != nil {
		return err
	}
	for _, row := range rows {
		fmt.Println(row...)
	}
	return nil
}

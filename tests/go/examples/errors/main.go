// Errors: inspect the error of a failing query.
//
//	SPARK_REMOTE=sc://127.0.0.1:15002 go run ./examples/errors
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/apache/spark-connect-go/spark/sparkerrors"
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

	_, err = s.Rows(ctx, "SELECT * FROM no_such_table")
	if err == nil {
		return errors.New("expected an error")
	}
	// Spark 4 sends the class as a field; 3.5 only in the message text.
	// ErrorClass handles both.
	fmt.Println("class:", client.ErrorClass(err))

	var se *sparkerrors.SparkError
	if errors.As(err, &se) {
		fmt.Println("gRPC code:", se.Code, "SQL state:", se.SqlState)
	}
	return nil
}

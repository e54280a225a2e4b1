package client

import (
	"context"
	"errors"
	"regexp"

	"github.com/apache/spark-connect-go/spark/sparkerrors"
	"github.com/apache/spark-connect-go/spark/sql"
)

// Collect executes df and returns its rows as plain JSON values. It reads the
// Arrow result directly rather than upstream's Rows, which cannot convert
// some types (intervals) and loses decimal scales.
func Collect(ctx context.Context, df sql.DataFrame) ([][]any, error) {
	tbl, err := df.ToArrow(ctx)
	if err != nil {
		return nil, err
	}
	if tbl == nil || *tbl == nil { // upstream returns no table for an empty result
		return [][]any{}, nil
	}
	defer (*tbl).Release()
	return TableRows(*tbl), nil
}

// ColumnNames returns the field names of df's schema.
func ColumnNames(ctx context.Context, df sql.DataFrame) ([]string, error) {
	schema, err := df.Schema(ctx)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(schema.Fields))
	for i, f := range schema.Fields {
		names[i] = f.Name
	}
	return names, nil
}

var bracketClass = regexp.MustCompile(`\[([A-Z][A-Z0-9_]*(?:\.[A-Z0-9_]+)*)\]`)

// ErrorClass returns the Spark error class of err ("" if none). Spark 4
// servers send it as a field; 3.5 servers do not, so it falls back to the
// first [ERROR_CLASS] in the message text.
func ErrorClass(err error) string {
	if err == nil {
		return ""
	}
	var se *sparkerrors.SparkError
	if errors.As(err, &se) && se.ErrorClass != "" {
		return se.ErrorClass
	}
	for _, m := range bracketClass.FindAllStringSubmatch(err.Error(), -1) {
		if m[1] != "INTERNAL" { // gRPC code printed by SparkError.Error()
			return m[1]
		}
	}
	return ""
}

package client

import (
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// TableRows converts an Arrow table to rows of plain JSON values.
func TableRows(tbl arrow.Table) [][]any {
	rows := make([][]any, tbl.NumRows())
	for i := range rows {
		rows[i] = make([]any, tbl.NumCols())
	}
	for c := 0; c < int(tbl.NumCols()); c++ {
		r := 0
		for _, chunk := range tbl.Column(c).Data().Chunks() {
			for i := 0; i < chunk.Len(); i++ {
				rows[r][c] = Value(chunk, i)
				r++
			}
		}
	}
	return rows
}

// Value returns element i of arr as a value encoding/json can write and the
// Python side can compare: nil, bool, int64, float64, string or []any.
// Integers widen to int64; decimals become float64; timestamps become
// microseconds since the epoch (int64); dates "YYYY-MM-DD"; day-time
// intervals microseconds; NaN and ±Inf the strings "NaN", "Infinity",
// "-Infinity" (JSON has no such numbers); anything else Arrow's text form.
func Value(arr arrow.Array, i int) any {
	if arr.IsNull(i) {
		return nil
	}
	switch a := arr.(type) {
	case *array.Boolean:
		return a.Value(i)
	case *array.Int8:
		return int64(a.Value(i))
	case *array.Int16:
		return int64(a.Value(i))
	case *array.Int32:
		return int64(a.Value(i))
	case *array.Int64:
		return a.Value(i)
	case *array.Float32:
		return float(float64(a.Value(i)))
	case *array.Float64:
		return float(a.Value(i))
	case *array.Decimal128:
		return float(a.Value(i).ToFloat64(a.DataType().(*arrow.Decimal128Type).Scale))
	case *array.String:
		return a.Value(i)
	case *array.LargeString:
		return a.Value(i)
	case *array.Date32:
		return a.Value(i).FormattedString()
	case *array.Timestamp:
		return micros(int64(a.Value(i)), a.DataType().(*arrow.TimestampType).Unit)
	case *array.Duration:
		return micros(int64(a.Value(i)), a.DataType().(*arrow.DurationType).Unit)
	case *array.List:
		start, end := a.ValueOffsets(i)
		out := make([]any, 0, end-start)
		for j := start; j < end; j++ {
			out = append(out, Value(a.ListValues(), int(j)))
		}
		return out
	default:
		return arr.ValueStr(i)
	}
}

func float(f float64) any {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	return f
}

// micros converts v in unit to microseconds without going through time.Time,
// which overflows outside the years 1678-2262.
func micros(v int64, unit arrow.TimeUnit) int64 {
	switch unit {
	case arrow.Second:
		return v * 1_000_000
	case arrow.Millisecond:
		return v * 1_000
	case arrow.Nanosecond:
		return v / 1_000
	}
	return v
}

package client

import (
	"math"
	"reflect"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

func TestTableRows(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "i", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "f", Type: arrow.PrimitiveTypes.Float64},
		{Name: "s", Type: arrow.BinaryTypes.String},
		{Name: "b", Type: arrow.FixedWidthTypes.Boolean},
		{Name: "d", Type: &arrow.Decimal128Type{Precision: 10, Scale: 2}},
		{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}},
		{Name: "day", Type: arrow.FixedWidthTypes.Date32},
		{Name: "l", Type: arrow.ListOf(arrow.PrimitiveTypes.Int64)},
	}, nil)
	b := array.NewRecordBuilder(memory.NewGoAllocator(), schema)
	defer b.Release()
	b.Field(0).(*array.Int32Builder).AppendValues([]int32{7, 0}, []bool{true, false})
	b.Field(1).(*array.Float64Builder).AppendValues([]float64{1.5, math.NaN()}, nil)
	b.Field(2).(*array.StringBuilder).AppendValues([]string{"x", ""}, nil)
	b.Field(3).(*array.BooleanBuilder).AppendValues([]bool{true, false}, nil)
	b.Field(4).(*array.Decimal128Builder).AppendValues([]decimal128.Num{decimal128.FromI64(12345), decimal128.FromI64(-5)}, nil)
	b.Field(5).(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{1_700_000_000_000_001, 0}, nil)
	b.Field(6).(*array.Date32Builder).AppendValues([]arrow.Date32{19723, 0}, nil)
	lb := b.Field(7).(*array.ListBuilder)
	lb.Append(true)
	lb.ValueBuilder().(*array.Int64Builder).AppendValues([]int64{1, 2}, nil)
	lb.AppendNull()
	rec := b.NewRecord()
	defer rec.Release()
	tbl := array.NewTableFromRecords(schema, []arrow.Record{rec, rec}) // two chunks
	defer tbl.Release()

	row0 := []any{int64(7), 1.5, "x", true, 123.45, int64(1_700_000_000_000_001), "2024-01-01", []any{int64(1), int64(2)}}
	row1 := []any{nil, "NaN", "", false, -0.05, int64(0), "1970-01-01", nil}
	want := [][]any{row0, row1, row0, row1}
	if got := TableRows(tbl); !reflect.DeepEqual(got, want) {
		t.Errorf("TableRows:\n got %#v\nwant %#v", got, want)
	}
}

func TestMicros(t *testing.T) {
	for _, c := range []struct {
		v    int64
		unit arrow.TimeUnit
		want int64
	}{{2, arrow.Second, 2_000_000}, {2, arrow.Millisecond, 2_000}, {2, arrow.Microsecond, 2}, {2_000, arrow.Nanosecond, 2}} {
		if got := micros(c.v, c.unit); got != c.want {
			t.Errorf("micros(%d, %s) = %d, want %d", c.v, c.unit, got, c.want)
		}
	}
}

func TestErrorClass(t *testing.T) {
	for msg, want := range map[string]string{
		"execution error: [TABLE_OR_VIEW_NOT_FOUND] The table or view `x` cannot be found.": "TABLE_OR_VIEW_NOT_FOUND",
		"[INTERNAL] [DIVIDE_BY_ZERO] Division by zero.":                                     "DIVIDE_BY_ZERO",
		"rpc error: connection refused":                                                     "",
	} {
		if got := ErrorClass(errorString(msg)); got != want {
			t.Errorf("ErrorClass(%q) = %q, want %q", msg, got, want)
		}
	}
}

type errorString string

func (e errorString) Error() string { return string(e) }

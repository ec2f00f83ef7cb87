package runtime

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
)

// History is the record of training that fit returns: one row per epoch,
// with one column per metric. Metrics names the columns; the first is always
// "epoch", and the others are sorted by name as Keras's CSVLogger sorts
// them (accuracy, loss, val_accuracy, val_loss).
type History struct {
	Metrics []string
	Rows    [][]float64
}

// Add appends the row of one epoch. A metric seen for the first time adds a
// column, which is NaN in earlier rows; a metric missing from vals is NaN in
// this row. The epoch is stored as given: Keras's CSVLogger counts from 0,
// its progress bar ("Epoch 1/5") from 1.
func (h *History) Add(epoch int, vals map[string]float64) {
	if len(h.Metrics) == 0 {
		h.Metrics = []string{"epoch"}
	}
	var added []string
	for name := range vals {
		if name != "epoch" && !slices.Contains(h.Metrics, name) {
			added = append(added, name)
		}
	}
	slices.Sort(added)
	h.Metrics = append(h.Metrics, added...)
	for i, r := range h.Rows {
		for len(r) < len(h.Metrics) {
			r = append(r, math.NaN())
		}
		h.Rows[i] = r
	}
	row := make([]float64, len(h.Metrics))
	row[0] = float64(epoch)
	for j, name := range h.Metrics[1:] {
		v, ok := vals[name]
		if !ok {
			v = math.NaN()
		}
		row[j+1] = v
	}
	h.Rows = append(h.Rows, row)
}

// Column returns the values of one metric, one per epoch, or nil if the
// history has no such metric.
func (h *History) Column(name string) []float64 {
	j := slices.Index(h.Metrics, name)
	if j < 0 {
		return nil
	}
	col := make([]float64, len(h.Rows))
	for i, r := range h.Rows {
		col[i] = r[j]
	}
	return col
}

// WriteCSV writes the history to path atomically (see WriteFileAtomic) as
// CSV with a header line, in the layout of Keras's CSVLogger:
//
//	epoch,accuracy,loss
//	1,0.9279166460037231,0.23541
//
// Numbers are spelled as Python spells them (shortest round-trip form, "nan"
// for NaN), so the file reads the same into pandas or Go.
func (h *History) WriteCSV(path string) error {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	cols := h.Metrics
	if len(cols) == 0 {
		cols = []string{"epoch"}
	}
	w.Write(cols)
	rec := make([]string, len(cols))
	for i, r := range h.Rows {
		if len(r) != len(cols) {
			return fmt.Errorf("write %s: row %d has %d values for %d columns", path, i, len(r), len(cols))
		}
		for j, v := range r {
			if j == 0 && v == math.Trunc(v) && math.Abs(v) < 1<<53 {
				rec[j] = strconv.FormatInt(int64(v), 10)
			} else {
				rec[j] = pythonFloat(v)
			}
		}
		w.Write(rec)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return fmt.Errorf("write %s: %v", path, err)
	}
	return WriteFileAtomic(path, buf.Bytes())
}

// pythonFloat formats v as Python's repr(float) does: the shortest string
// that reads back as v, in exponent form below 1e-4 and from 1e16 up, and
// always with a decimal point or exponent.
func pythonFloat(v float64) string {
	switch {
	case math.IsNaN(v):
		return "nan"
	case math.IsInf(v, 1):
		return "inf"
	case math.IsInf(v, -1):
		return "-inf"
	}
	if a := math.Abs(v); a != 0 && (a < 1e-4 || a >= 1e16) {
		return strconv.FormatFloat(v, 'e', -1, 64)
	}
	s := strconv.FormatFloat(v, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

// ReadHistoryCSV reads a history written by WriteCSV, or by Keras's
// CSVLogger. The first column must be "epoch". Empty fields and "NA" (what
// CSVLogger writes for a missing metric) read as NaN. Errors give the file
// and line.
func ReadHistoryCSV(path string) (*History, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // a spreadsheet's byte order mark
	r := csv.NewReader(bytes.NewReader(data))
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: the file is empty; a history CSV starts with a header line such as epoch,accuracy,loss", path)
	}
	if err != nil {
		return nil, csvError(path, err)
	}
	if header[0] != "epoch" {
		return nil, fmt.Errorf("%s:1: the first column is %q, want \"epoch\"; is this a history CSV?", path, header[0])
	}
	for j, name := range header {
		if name == "" {
			return nil, fmt.Errorf("%s:1: column %d has no name", path, j+1)
		}
		if k := slices.Index(header[:j], name); k >= 0 {
			return nil, fmt.Errorf("%s:1: columns %d and %d are both named %q", path, k+1, j+1, name)
		}
	}
	h := &History{Metrics: header}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, csvError(path, err)
		}
		row := make([]float64, len(rec))
		for j, s := range rec {
			s = strings.TrimSpace(s)
			if s == "" || s == "NA" {
				row[j] = math.NaN()
				continue
			}
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				line, _ := r.FieldPos(j)
				return nil, fmt.Errorf("%s:%d: column %s: %q is not a number", path, line, header[j], s)
			}
			row[j] = v
		}
		h.Rows = append(h.Rows, row)
	}
	return h, nil
}

// csvError rewrites an encoding/csv error as file:line: message.
func csvError(path string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		msg := pe.Err.Error()
		if errors.Is(pe.Err, csv.ErrFieldCount) {
			msg = "this line has a different number of fields than the header"
		}
		return fmt.Errorf("%s:%d: %s", path, pe.Line, msg)
	}
	return fmt.Errorf("%s: %v", path, err)
}

package onnxtest

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"

	"github.com/convc/convc/internal/onnx/onnxpb"
	"google.golang.org/protobuf/proto"
)

// ReadTensor reads a serialized TensorProto, as ONNX's backend tests store
// their inputs and expected outputs (input_0.pb, output_0.pb).
func ReadTensor(path string) (*onnxpb.TensorProto, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var t onnxpb.TensorProto
	if err := proto.Unmarshal(data, &t); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return &t, nil
}

// Floats returns a float or double tensor's values as float32s, from
// raw_data or the typed field.
func Floats(t *onnxpb.TensorProto) ([]float32, error) {
	n := 1
	for _, d := range t.GetDims() {
		n *= int(d)
	}
	var x []float32
	switch onnxpb.TensorProto_DataType(t.GetDataType()) {
	case onnxpb.TensorProto_FLOAT:
		if raw := t.GetRawData(); raw != nil {
			x = make([]float32, len(raw)/4)
			for i := range x {
				x[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
			}
		} else {
			x = t.GetFloatData()
		}
	case onnxpb.TensorProto_DOUBLE:
		d := t.GetDoubleData()
		if raw := t.GetRawData(); raw != nil {
			d = make([]float64, len(raw)/8)
			for i := range d {
				d[i] = math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:]))
			}
		}
		x = make([]float32, len(d))
		for i, v := range d {
			x[i] = float32(v)
		}
	default:
		return nil, fmt.Errorf("tensor %q has data type %v, not float", t.GetName(), onnxpb.TensorProto_DataType(t.GetDataType()))
	}
	if len(x) != n {
		return nil, fmt.Errorf("tensor %q has %d values for its shape %v", t.GetName(), len(x), t.GetDims())
	}
	return x, nil
}

// CHWToHWC transposes n samples from (c, h, w) to (h, w, c) order.
func CHWToHWC(x []float32, n, c, h, w int) []float32 {
	y := make([]float32, len(x))
	for s := range n {
		src, dst := x[s*c*h*w:], y[s*c*h*w:]
		for ch := range c {
			for i := range h {
				for j := range w {
					dst[(i*w+j)*c+ch] = src[(ch*h+i)*w+j]
				}
			}
		}
	}
	return y
}

// HWCToCHW transposes n samples from (h, w, c) to (c, h, w) order.
func HWCToCHW(x []float32, n, h, w, c int) []float32 {
	y := make([]float32, len(x))
	for s := range n {
		src, dst := x[s*c*h*w:], y[s*c*h*w:]
		for ch := range c {
			for i := range h {
				for j := range w {
					dst[(ch*h+i)*w+j] = src[(i*w+j)*c+ch]
				}
			}
		}
	}
	return y
}

// Diff returns the largest absolute difference between got and want, the
// index where it occurs, and the largest magnitude in want. A NaN in got
// counts as an infinite difference.
func Diff(got, want []float32) (maxDiff float64, at int, maxWant float64) {
	for i := range want {
		d := math.Abs(float64(got[i]) - float64(want[i]))
		if math.IsNaN(d) {
			d = math.Inf(1)
		}
		if d > maxDiff {
			maxDiff, at = d, i
		}
		maxWant = math.Max(maxWant, math.Abs(float64(want[i])))
	}
	return maxDiff, at, maxWant
}

package onnx

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/convc/convc/dsl"

	"github.com/convc/convc/internal/onnx/onnxpb"
)

// This file reads ONNX tensors and attributes into constants, and folds
// the constant arithmetic that exporters leave in graphs: the shape
// computations of x.view(x.size(0), -1), Constant nodes and casts.

// impConst is a constant tensor: an initializer, a Constant node's value
// or a folded node's output. FLOAT tensors keep their float32 values in
// f32, so that a large model's weights are not copied wider; other floats
// and folded results are float64 in f, so that folding loses nothing.
// Integers keep int64, where impBatch stands for the graph's symbolic
// batch dimension.
type impConst struct {
	shape []int
	isInt bool
	f     []float64
	f32   []float32
	i     []int64
	// dtype names the ONNX type the values came from, for messages.
	dtype string
}

// The integer sentinels of shape computations: the symbolic batch
// dimension, and a value computed from it that is not known.
const (
	impBatch   = math.MinInt64
	impUnknown = math.MinInt64 + 1
)

// impMaxElems bounds a tensor's element count, so that a corrupt file
// cannot make the importer allocate without limit; impMaxFolded bounds
// what broadcasting may make of small constants.
const (
	impMaxElems  = 1 << 31
	impMaxFolded = 1 << 24
)

func (c *impConst) size() int { return impSize(c.shape) }

func impSize(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// float returns element k as a float64.
func (c *impConst) float(k int) float64 {
	if c.isInt {
		return float64(c.i[k])
	}
	if c.f32 != nil {
		return float64(c.f32[k])
	}
	return c.f[k]
}

// floats returns a float tensor's values as float64s.
func (c *impConst) floats() []float64 {
	if c.f32 == nil {
		return c.f
	}
	f := make([]float64, len(c.f32))
	for k, v := range c.f32 {
		f[k] = float64(v)
	}
	return f
}

// ints returns the values as int64s; ok is false for a float tensor.
func (c *impConst) ints() ([]int64, bool) {
	if !c.isInt {
		return nil, false
	}
	return c.i, true
}

// impDims formats a shape as ONNX writes dims: [1, 3, 1, 1].
func impDims(shape []int) string {
	s := make([]string, len(shape))
	for i, d := range shape {
		s[i] = fmt.Sprint(d)
	}
	return "[" + strings.Join(s, ", ") + "]"
}

// impDTypeName is the ONNX name of a data type: FLOAT, INT64.
func impDTypeName(dt int32) string {
	if name, ok := onnxpb.TensorProto_DataType_name[dt]; ok {
		return name
	}
	return fmt.Sprintf("data type %d", dt)
}

// impTensor decodes a TensorProto. It refuses external data, segments,
// and types that are neither floating point nor integer.
func impTensor(t *onnxpb.TensorProto) (*impConst, error) {
	if t.GetDataLocation() == onnxpb.TensorProto_EXTERNAL || len(t.GetExternalData()) > 0 {
		return nil, fmt.Errorf("its data is stored outside the model file (data_location EXTERNAL), which convc does not read; save the model with its weights inside (onnx.save_model(m, path, save_as_external_data=False)), which works below 2 GB")
	}
	if t.GetSegment() != nil {
		return nil, fmt.Errorf("it is split into segments, which convc does not read")
	}
	c := &impConst{dtype: impDTypeName(t.GetDataType())}
	n := 1
	for _, d := range t.GetDims() {
		if d < 0 {
			return nil, fmt.Errorf("it has a negative dimension %d", d)
		}
		if d > impMaxElems || n*int(d) > impMaxElems {
			return nil, fmt.Errorf("it has more than %d elements", impMaxElems)
		}
		c.shape = append(c.shape, int(d))
		n *= int(d)
	}
	raw := t.GetRawData()
	useRaw := len(raw) > 0
	// width is the byte size of one raw element.
	width := 0
	dt := onnxpb.TensorProto_DataType(t.GetDataType())
	switch dt {
	case onnxpb.TensorProto_FLOAT, onnxpb.TensorProto_INT32, onnxpb.TensorProto_UINT32:
		width = 4
	case onnxpb.TensorProto_DOUBLE, onnxpb.TensorProto_INT64, onnxpb.TensorProto_UINT64:
		width = 8
	case onnxpb.TensorProto_FLOAT16, onnxpb.TensorProto_BFLOAT16, onnxpb.TensorProto_INT16, onnxpb.TensorProto_UINT16:
		width = 2
	case onnxpb.TensorProto_INT8, onnxpb.TensorProto_UINT8, onnxpb.TensorProto_BOOL:
		width = 1
	default:
		return nil, fmt.Errorf("it has type %s; convc reads float32 weights (float16, bfloat16 and float64 are converted) and integer shapes", c.dtype)
	}
	count := 0
	switch {
	case useRaw:
		if len(raw) != n*width {
			return nil, fmt.Errorf("its raw data has %d bytes; dims %s of %s need %d", len(raw), impDims(c.shape), c.dtype, n*width)
		}
		count = n
	case dt == onnxpb.TensorProto_FLOAT:
		count = len(t.GetFloatData())
	case dt == onnxpb.TensorProto_DOUBLE:
		count = len(t.GetDoubleData())
	case dt == onnxpb.TensorProto_INT64:
		count = len(t.GetInt64Data())
	case dt == onnxpb.TensorProto_UINT32, dt == onnxpb.TensorProto_UINT64:
		count = len(t.GetUint64Data())
	default:
		count = len(t.GetInt32Data())
	}
	if count != n {
		return nil, fmt.Errorf("it holds %d values; dims %s need %d", count, impDims(c.shape), n)
	}
	le := binary.LittleEndian
	switch {
	case dt == onnxpb.TensorProto_FLOAT && useRaw:
		c.f32 = make([]float32, n)
		for k := range n {
			c.f32[k] = math.Float32frombits(le.Uint32(raw[4*k:]))
		}
	case dt == onnxpb.TensorProto_FLOAT:
		// The proto's slice is not changed by the importer.
		c.f32 = t.GetFloatData()
		if c.f32 == nil {
			c.f32 = []float32{}
		}
	}
	switch dt {
	case onnxpb.TensorProto_FLOAT:
	case onnxpb.TensorProto_DOUBLE, onnxpb.TensorProto_FLOAT16, onnxpb.TensorProto_BFLOAT16:
		c.f = make([]float64, n)
		for k := range n {
			var v float64
			switch {
			case dt == onnxpb.TensorProto_DOUBLE && useRaw:
				v = math.Float64frombits(le.Uint64(raw[8*k:]))
			case dt == onnxpb.TensorProto_DOUBLE:
				v = t.GetDoubleData()[k]
			default:
				var h uint16
				if useRaw {
					h = le.Uint16(raw[2*k:])
				} else {
					h = uint16(t.GetInt32Data()[k])
				}
				if dt == onnxpb.TensorProto_BFLOAT16 {
					v = float64(math.Float32frombits(uint32(h) << 16))
				} else {
					v = float64(impHalf(h))
				}
			}
			c.f[k] = v
		}
	default:
		c.isInt = true
		c.i = make([]int64, n)
		for k := range n {
			var v int64
			switch {
			case useRaw:
				switch dt {
				case onnxpb.TensorProto_INT64:
					v = int64(le.Uint64(raw[8*k:]))
				case onnxpb.TensorProto_UINT64:
					v = int64(min(le.Uint64(raw[8*k:]), math.MaxInt64))
				case onnxpb.TensorProto_INT32:
					v = int64(int32(le.Uint32(raw[4*k:])))
				case onnxpb.TensorProto_UINT32:
					v = int64(le.Uint32(raw[4*k:]))
				case onnxpb.TensorProto_INT16:
					v = int64(int16(le.Uint16(raw[2*k:])))
				case onnxpb.TensorProto_UINT16:
					v = int64(le.Uint16(raw[2*k:]))
				case onnxpb.TensorProto_INT8:
					v = int64(int8(raw[k]))
				default:
					v = int64(raw[k])
				}
			case dt == onnxpb.TensorProto_INT64:
				v = t.GetInt64Data()[k]
			case dt == onnxpb.TensorProto_UINT32, dt == onnxpb.TensorProto_UINT64:
				v = int64(min(t.GetUint64Data()[k], math.MaxInt64))
			default:
				v = int64(t.GetInt32Data()[k])
			}
			// The sentinels are not valid shape values in a file.
			if v == impBatch || v == impUnknown {
				v = impUnknown
			}
			c.i[k] = v
		}
	}
	return c, nil
}

// impHalf converts an IEEE 754 half-precision number to float32.
func impHalf(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0xff<<23 | frac<<13)
	case exp != 0:
		return math.Float32frombits(sign | (exp+112)<<23 | frac<<13)
	case frac == 0:
		return math.Float32frombits(sign)
	}
	// A subnormal: normalize it.
	e := uint32(113)
	for frac&0x400 == 0 {
		frac <<= 1
		e--
	}
	return math.Float32frombits(sign | e<<23 | (frac&0x3ff)<<13)
}

// impIsFloatType reports whether an ONNX data type is floating point.
func impIsFloatType(dt string) bool {
	switch dt {
	case "FLOAT", "DOUBLE", "FLOAT16", "BFLOAT16":
		return true
	}
	return false
}

// impBroadcast applies a binary operation to two constants with ONNX's
// multidirectional (NumPy) broadcasting.
func impBroadcast(a, b *impConst, fi func(x, y int64) (int64, bool), ff func(x, y float64) float64) (*impConst, error) {
	r := max(len(a.shape), len(b.shape))
	shape := make([]int, r)
	dim := func(s []int, k int) int {
		if k < r-len(s) {
			return 1
		}
		return s[k-(r-len(s))]
	}
	for k := range r {
		x, y := dim(a.shape, k), dim(b.shape, k)
		switch {
		case x == y || y == 1:
			shape[k] = x
		case x == 1:
			shape[k] = y
		default:
			return nil, fmt.Errorf("shapes %s and %s do not broadcast", impDims(a.shape), impDims(b.shape))
		}
	}
	out := &impConst{shape: shape, isInt: a.isInt && b.isInt, dtype: a.dtype}
	n := impSize(shape)
	if n > impMaxFolded {
		return nil, fmt.Errorf("folding it would make a constant of %d elements; convc folds constants of up to %d", n, impMaxFolded)
	}
	if out.isInt {
		out.i = make([]int64, n)
	} else {
		out.f = make([]float64, n)
	}
	index := func(s []int, flat int) int {
		// flat indexes shape; map it to s, broadcast.
		k, stride := 0, 1
		for d := r - 1; d >= 0; d-- {
			coord := flat % shape[d]
			flat /= shape[d]
			sd := dim(s, d)
			if sd != 1 {
				k += coord * stride
			}
			stride *= sd
		}
		return k
	}
	for j := range n {
		ia, ib := index(a.shape, j), index(b.shape, j)
		if out.isInt {
			x, y := a.i[ia], b.i[ib]
			if x == impBatch || x == impUnknown || y == impBatch || y == impUnknown {
				out.i[j] = impUnknown
				continue
			}
			v, ok := fi(x, y)
			if !ok {
				return nil, fmt.Errorf("integer arithmetic overflows or divides by zero")
			}
			out.i[j] = v
		} else {
			out.f[j] = ff(a.float(ia), b.float(ib))
		}
	}
	return out, nil
}

// impArith holds the integer and float forms of Add, Sub, Mul and Div.
var impArith = map[string]struct {
	i func(x, y int64) (int64, bool)
	f func(x, y float64) float64
}{
	"Add": {func(x, y int64) (int64, bool) { return x + y, true }, func(x, y float64) float64 { return x + y }},
	"Sub": {func(x, y int64) (int64, bool) { return x - y, true }, func(x, y float64) float64 { return x - y }},
	"Mul": {func(x, y int64) (int64, bool) {
		if x != 0 && (x*y/x != y) {
			return 0, false
		}
		return x * y, true
	}, func(x, y float64) float64 { return x * y }},
	"Div": {func(x, y int64) (int64, bool) {
		if y == 0 {
			return 0, false
		}
		// ONNX's integer Div truncates, as C does.
		return x / y, true
	}, func(x, y float64) float64 { return x / y }},
}

// impAttrs holds a node's attributes by name, and reads them with their
// defaults.
type impAttrs map[string]*onnxpb.AttributeProto

func (a impAttrs) has(name string) bool { return a[name] != nil }

// impAttrErr is a problem with an attribute, reported with the node.
type impAttrErr struct{ msg string }

func (e *impAttrErr) Error() string { return e.msg }

func (a impAttrs) want(name string, typ onnxpb.AttributeProto_AttributeType) (*onnxpb.AttributeProto, error) {
	p := a[name]
	if p == nil {
		return nil, nil
	}
	if p.GetType() != typ && p.GetType() != onnxpb.AttributeProto_UNDEFINED {
		return nil, &impAttrErr{fmt.Sprintf("attribute %s is %s, want %s", name, p.GetType(), typ)}
	}
	if p.GetRefAttrName() != "" {
		return nil, &impAttrErr{fmt.Sprintf("attribute %s refers to a function's attribute, which convc does not resolve", name)}
	}
	return p, nil
}

func (a impAttrs) int(name string, def int64) (int64, error) {
	p, err := a.want(name, onnxpb.AttributeProto_INT)
	if p == nil || err != nil {
		return def, err
	}
	return p.GetI(), nil
}

func (a impAttrs) float(name string, def float64) (float64, error) {
	p, err := a.want(name, onnxpb.AttributeProto_FLOAT)
	if p == nil || err != nil {
		return def, err
	}
	return float64(p.GetF()), nil
}

func (a impAttrs) str(name, def string) (string, error) {
	p, err := a.want(name, onnxpb.AttributeProto_STRING)
	if p == nil || err != nil {
		return def, err
	}
	return string(p.GetS()), nil
}

// ints returns an INTS attribute, or nil when it is absent.
func (a impAttrs) ints(name string) ([]int64, error) {
	p, err := a.want(name, onnxpb.AttributeProto_INTS)
	if p == nil || err != nil {
		return nil, err
	}
	return p.GetInts(), nil
}

// impFold computes a node whose inputs are all constants.
type impFold func(n *impNode) (*impConst, error)

var impFolds map[string]impFold

func init() {
	impFolds = map[string]impFold{
		"Constant":  impFoldConstant,
		"Identity":  func(n *impNode) (*impConst, error) { return n.ins[0].c, nil },
		"Cast":      impFoldCast,
		"Shape":     impFoldShape,
		"Gather":    impFoldGather,
		"Unsqueeze": impFoldUnsqueeze,
		"Squeeze":   impFoldSqueeze,
		"Concat":    impFoldConcat,
		"Reshape":   impFoldReshape,
		"Slice":     impFoldSlice,
		"Transpose": impFoldTranspose,
		"Neg": func(n *impNode) (*impConst, error) {
			return impBroadcast(&impConst{isInt: true, i: []int64{0}}, n.ins[0].c, impArith["Sub"].i, impArith["Sub"].f)
		},
	}
	for op, f := range impArith {
		impFolds[op] = func(n *impNode) (*impConst, error) {
			if len(n.ins) != 2 || n.ins[0] == nil || n.ins[1] == nil {
				return nil, fmt.Errorf("%s needs two inputs", op)
			}
			return impBroadcast(n.ins[0].c, n.ins[1].c, f.i, f.f)
		}
	}
}

// foldIn returns constant input i, or an error when it is absent.
func (n *impNode) foldIn(i int) (*impConst, error) {
	if v := n.in(i); v != nil && v.c != nil {
		return v.c, nil
	}
	return nil, fmt.Errorf("it lacks input %d", i+1)
}

func impFoldConstant(n *impNode) (*impConst, error) {
	for name, a := range n.attrs {
		switch name {
		case "value":
			if a.GetT() == nil {
				return nil, fmt.Errorf("its value is not a tensor")
			}
			c, err := impTensor(a.GetT())
			if err != nil {
				return nil, fmt.Errorf("its value: %v", err)
			}
			return c, nil
		case "value_float":
			return &impConst{f: []float64{float64(a.GetF())}, dtype: "FLOAT"}, nil
		case "value_floats":
			f := make([]float64, len(a.GetFloats()))
			for i, v := range a.GetFloats() {
				f[i] = float64(v)
			}
			return &impConst{shape: []int{len(f)}, f: f, dtype: "FLOAT"}, nil
		case "value_int":
			return &impConst{isInt: true, i: []int64{a.GetI()}, dtype: "INT64"}, nil
		case "value_ints":
			return &impConst{shape: []int{len(a.GetInts())}, isInt: true, i: slices.Clone(a.GetInts()), dtype: "INT64"}, nil
		default:
			return nil, fmt.Errorf("a Constant with %s is not supported", dsl.Printable(name))
		}
	}
	return nil, fmt.Errorf("it has no value")
}

func impFoldCast(n *impNode) (*impConst, error) {
	c, err := n.foldIn(0)
	if err != nil {
		return nil, err
	}
	to, err := n.attrs.int("to", 0)
	if err != nil {
		return nil, err
	}
	name := impDTypeName(int32(to))
	out := &impConst{shape: c.shape, dtype: name}
	switch {
	case impIsFloatType(name):
		out.f = make([]float64, c.size())
		for k := range out.f {
			out.f[k] = c.float(k)
		}
	case strings.HasPrefix(name, "INT") || strings.HasPrefix(name, "UINT") || name == "BOOL":
		out.isInt = true
		if c.isInt {
			out.i = c.i
			break
		}
		out.i = make([]int64, c.size())
		for k := range out.i {
			v := c.float(k)
			if name == "BOOL" && v != 0 {
				v = 1
			}
			if math.IsNaN(v) || math.Abs(v) > 1<<62 {
				return nil, fmt.Errorf("cast of %v to %s", v, name)
			}
			out.i[k] = int64(v)
		}
	default:
		return nil, fmt.Errorf("cast to %s is not supported", name)
	}
	return out, nil
}

func impFoldShape(n *impNode) (*impConst, error) {
	c, err := n.foldIn(0)
	if err != nil {
		return nil, err
	}
	dims := make([]int64, len(c.shape))
	for i, d := range c.shape {
		dims[i] = int64(d)
	}
	r := int64(len(dims))
	start, err1 := n.attrs.int("start", 0)
	end, err2 := n.attrs.int("end", r)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("bad start or end")
	}
	norm := func(v int64) int64 {
		if v < 0 {
			v += r
		}
		return min(max(v, 0), r)
	}
	start, end = norm(start), max(norm(end), norm(start))
	return &impConst{shape: []int{int(end - start)}, isInt: true, i: dims[start:end], dtype: "INT64"}, nil
}

// impAxis normalizes an axis for rank r.
func impAxis(axis int64, r int) (int, error) {
	if axis < 0 {
		axis += int64(r)
	}
	if axis < 0 || axis >= int64(r) {
		return 0, fmt.Errorf("axis %d is out of range for rank %d", axis, r)
	}
	return int(axis), nil
}

func impFoldGather(n *impNode) (*impConst, error) {
	data, err := n.foldIn(0)
	if err != nil {
		return nil, err
	}
	idx, err := n.foldIn(1)
	if err != nil {
		return nil, err
	}
	axis, err := n.attrs.int("axis", 0)
	if err != nil {
		return nil, err
	}
	ix, ok := idx.ints()
	if len(data.shape) != 1 || !ok || axis != 0 && axis != -1 {
		return nil, fmt.Errorf("convc folds Gather only from a 1-D constant such as a shape")
	}
	out := &impConst{shape: idx.shape, isInt: data.isInt, dtype: data.dtype}
	for _, i := range ix {
		if i < 0 {
			i += int64(data.shape[0])
		}
		if i < 0 || i >= int64(data.shape[0]) {
			return nil, fmt.Errorf("index %d is out of range", i)
		}
		if data.isInt {
			out.i = append(out.i, data.i[i])
		} else {
			out.f = append(out.f, data.float(int(i)))
		}
	}
	return out, nil
}

// axesOf reads the axes of Unsqueeze and Squeeze: an attribute before
// opset 13, an input since.
func (n *impNode) axesOf() ([]int64, error) {
	if c := n.in(1); c != nil && c.c != nil {
		ax, ok := c.c.ints()
		if !ok {
			return nil, fmt.Errorf("its axes are not integers")
		}
		return ax, nil
	}
	return n.attrs.ints("axes")
}

func impFoldUnsqueeze(n *impNode) (*impConst, error) {
	c, err := n.foldIn(0)
	if err != nil {
		return nil, err
	}
	axes, err := n.axesOf()
	if err != nil {
		return nil, err
	}
	r := len(c.shape) + len(axes)
	ones := make([]bool, r)
	for _, a := range axes {
		k, err := impAxis(a, r)
		if err != nil {
			return nil, err
		}
		ones[k] = true
	}
	out := *c
	out.shape = nil
	j := 0
	for k := range r {
		if ones[k] {
			out.shape = append(out.shape, 1)
		} else if j < len(c.shape) {
			out.shape = append(out.shape, c.shape[j])
			j++
		}
	}
	if j != len(c.shape) {
		return nil, fmt.Errorf("repeated axes")
	}
	return &out, nil
}

func impFoldSqueeze(n *impNode) (*impConst, error) {
	c, err := n.foldIn(0)
	if err != nil {
		return nil, err
	}
	axes, err := n.axesOf()
	if err != nil {
		return nil, err
	}
	drop := make([]bool, len(c.shape))
	for _, a := range axes {
		k, err := impAxis(a, len(c.shape))
		if err != nil {
			return nil, err
		}
		if c.shape[k] != 1 {
			return nil, fmt.Errorf("axis %d has size %d, not 1", a, c.shape[k])
		}
		drop[k] = true
	}
	out := *c
	out.shape = nil
	for k, d := range c.shape {
		if !drop[k] && (len(axes) > 0 || d != 1) {
			out.shape = append(out.shape, d)
		}
	}
	return &out, nil
}

func impFoldConcat(n *impNode) (*impConst, error) {
	out := &impConst{shape: []int{0}, isInt: true}
	for i, v := range n.ins {
		if v == nil || v.c == nil {
			return nil, fmt.Errorf("it lacks input %d", i+1)
		}
		c := v.c
		if len(c.shape) != 1 {
			return nil, fmt.Errorf("convc folds Concat only of 1-D constants such as shapes")
		}
		out.isInt = out.isInt && c.isInt
		out.dtype = c.dtype
	}
	for _, v := range n.ins {
		c := v.c
		out.shape[0] += c.shape[0]
		for k := range c.size() {
			if out.isInt {
				out.i = append(out.i, c.i[k])
			} else {
				out.f = append(out.f, c.float(k))
			}
		}
	}
	return out, nil
}

func impFoldReshape(n *impNode) (*impConst, error) {
	c, err := n.foldIn(0)
	if err != nil {
		return nil, err
	}
	s, err := n.foldIn(1)
	if err != nil {
		return nil, err
	}
	dims, ok := s.ints()
	if !ok {
		return nil, fmt.Errorf("its shape is not integers")
	}
	shape := make([]int, len(dims))
	infer := -1
	known := 1
	for i, d := range dims {
		switch {
		case d == 0 && i < len(c.shape):
			shape[i] = c.shape[i]
		case d == -1 && infer < 0:
			infer = i
			continue
		case d < 1 || d > impMaxElems:
			return nil, fmt.Errorf("shape %v is not supported", dims)
		default:
			shape[i] = int(d)
		}
		known *= shape[i]
		if known > impMaxElems {
			return nil, fmt.Errorf("shape %v is too large", dims)
		}
	}
	if infer >= 0 {
		if known == 0 || c.size()%known != 0 {
			return nil, fmt.Errorf("shape %v does not fit %d elements", dims, c.size())
		}
		shape[infer] = c.size() / known
	}
	if impSize(shape) != c.size() {
		return nil, fmt.Errorf("shape %v does not fit %d elements", dims, c.size())
	}
	out := *c
	out.shape = shape
	return &out, nil
}

func impFoldSlice(n *impNode) (*impConst, error) {
	c, err := n.foldIn(0)
	if err != nil {
		return nil, err
	}
	if len(c.shape) != 1 {
		return nil, fmt.Errorf("convc folds Slice only of 1-D constants such as shapes")
	}
	get := func(i int, attr string, def int64) (int64, error) {
		var vals []int64
		if v := n.in(i); v != nil && v.c != nil {
			vals, _ = v.c.ints()
		} else if v == nil {
			a, err := n.attrs.ints(attr)
			if err != nil {
				return 0, err
			}
			vals = a
		}
		switch len(vals) {
		case 0:
			return def, nil
		case 1:
			return vals[0], nil
		}
		return 0, fmt.Errorf("its %s has %d values for a 1-D constant", attr, len(vals))
	}
	size := int64(c.shape[0])
	start, err := get(1, "starts", 0)
	if err != nil {
		return nil, err
	}
	end, err := get(2, "ends", size)
	if err != nil {
		return nil, err
	}
	if axis, err := get(3, "axes", 0); err != nil || (axis != 0 && axis != -1) {
		return nil, fmt.Errorf("its axes are not 0")
	}
	step, err := get(4, "steps", 1)
	if err != nil || step != 1 {
		return nil, fmt.Errorf("convc folds Slice only with step 1")
	}
	clamp := func(v int64) int64 {
		if v < 0 {
			v += size
		}
		return min(max(v, 0), size)
	}
	start, end = clamp(start), clamp(end)
	end = max(end, start)
	out := &impConst{shape: []int{int(end - start)}, isInt: c.isInt, dtype: c.dtype}
	if c.isInt {
		out.i = c.i[start:end]
	} else {
		out.f = c.floats()[start:end]
	}
	return out, nil
}

func impFoldTranspose(n *impNode) (*impConst, error) {
	c, err := n.foldIn(0)
	if err != nil {
		return nil, err
	}
	perm, err := n.attrs.ints("perm")
	if err != nil {
		return nil, err
	}
	r := len(c.shape)
	if perm == nil {
		for i := r - 1; i >= 0; i-- {
			perm = append(perm, int64(i))
		}
	}
	if len(perm) != r {
		return nil, fmt.Errorf("perm %v does not fit rank %d", perm, r)
	}
	seen := make([]bool, r)
	shape := make([]int, r)
	for i, p := range perm {
		if p < 0 || p >= int64(r) || seen[p] {
			return nil, fmt.Errorf("perm %v is not a permutation", perm)
		}
		seen[p] = true
		shape[i] = c.shape[p]
	}
	// strides of the source, in the order of the output's axes.
	src := make([]int, r)
	st := 1
	for k := r - 1; k >= 0; k-- {
		src[k] = st
		st *= c.shape[k]
	}
	out := &impConst{shape: shape, isInt: c.isInt, dtype: c.dtype}
	total := c.size()
	for j := range total {
		rem, off := j, 0
		for k := r - 1; k >= 0; k-- {
			coord := rem % shape[k]
			rem /= shape[k]
			off += coord * src[perm[k]]
		}
		if c.isInt {
			out.i = append(out.i, c.i[off])
		} else {
			out.f = append(out.f, c.float(off))
		}
	}
	return out, nil
}

package onnx

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/convc/convc/dsl"
	"github.com/convc/convc/internal/onnx/onnxpb"
	"github.com/convc/convc/runtime"
)

// This file walks an ONNX graph in order and translates it into convc's
// layers. Constants are folded as they come; the one activation tensor
// that flows from the input to the output is followed with its shape and
// layout (NCHW or NHWC as ONNX sees it), and each node that acts on it
// becomes a layer, merges into the layer before it (an activation, a bias)
// or is refused with the reason and what would be needed.

// impLayout is how ONNX lays out an activation tensor.
type impLayout int

const (
	impVector impLayout = iota
	impNCHW
	impNHWC
	// impUndecided is the graph input's 4-D layout until an operator
	// shows which it is.
	impUndecided
)

// impAct is what the translation knows of an activation tensor.
type impAct struct {
	// shape is the tensor's shape without the batch dimension, in ONNX's
	// order for its layout; nil when it is unknown, after a refused node.
	shape  []int
	layout impLayout
	// chw is the (C, H, W) of the NCHW image that a vector was flattened
	// from, whose order the next Dense kernel must follow; nil otherwise.
	chw []int
	// target is the index of the Conv2D or Dense layer that an activation
	// function here would belong to, or -1: the layer made this tensor,
	// and only layers that commute with activations came since (via).
	target int
	via    []impVia
	// fresh is true when the tensor is target's output as it is, without
	// an activation, so that a bias or a scale can fold into the layer.
	fresh bool
	// rescale is the index of the Rescaling layer that made this tensor,
	// so that further scalar arithmetic composes into it, or -1.
	rescale int
	// pad is a zero Pad waiting for the Conv or AveragePool that takes it.
	pad *impPad
	// affine is scalar arithmetic on a vector waiting for the Gemm or
	// MatMul that takes it into its kernel and bias.
	affine *impAffine
	// consumer is the node that took the tensor, to find branches.
	consumer string
}

// impAffine is x*scale + offset, element by element in ONNX's order,
// from the nodes named.
type impAffine struct {
	scale, offset []float64
	nodes         []string
}

// impVia is a node between an activation's layer and the activation.
type impVia struct{ node, kind string }

// impPad is a pending zero Pad.
type impPad struct {
	node string
	pre  []int  // the unpadded shape (C, H, W)
	pads [4]int // top, bottom, left, right
}

func (a *impAct) clone() *impAct {
	b := *a
	b.consumer = ""
	b.via = slices.Clone(a.via)
	return &b
}

// image reports whether the activation is a known 4-D tensor.
func (a *impAct) image() bool { return len(a.shape) == 3 }

// impValue is a tensor of the graph: a constant, the activation, or
// neither when it comes from a refused node.
type impValue struct {
	c *impConst
	a *impAct
}

type impTranslator struct {
	file  string
	opset int64
	vals  map[string]*impValue
	// uses counts the nodes and graph outputs that take each tensor;
	// consumers lists the nodes.
	uses      map[string]int
	consumers map[string][]*onnxpb.NodeProto
	layers    []*impLayer
	counts    map[string]int
	errs      []string

	// batch is the input's batch dimension, or impBatch when symbolic.
	batch       int64
	inputDims   []int
	inputLayout impLayout
	imageInput  bool
	outputNCHW  bool
	// converted lists the ONNX types of weights converted to float32.
	converted []string
	// moved lists the activations moved before a layer.
	moved []string
}

func newImpTranslator(file string, opset int64) *impTranslator {
	return &impTranslator{
		file: file, opset: opset,
		vals:        map[string]*impValue{},
		uses:        map[string]int{},
		consumers:   map[string][]*onnxpb.NodeProto{},
		counts:      map[string]int{},
		inputLayout: impUndecided,
	}
}

func (t *impTranslator) errorf(format string, args ...any) {
	t.errs = append(t.errs, t.file+": "+fmt.Sprintf(format, args...))
}

// add appends a layer, naming Conv2D and Dense layers as the checker
// will: conv2d, conv2d_1, ..., dense, dense_1.
func (t *impTranslator) add(l *impLayer) int {
	snake := map[string]string{"Conv2D": "conv2d", "Dense": "dense"}[l.kind]
	if snake != "" {
		k := t.counts[snake]
		t.counts[snake] = k + 1
		l.name = snake
		if k > 0 {
			l.name = fmt.Sprintf("%s_%d", snake, k)
		}
	}
	t.layers = append(t.layers, l)
	return len(t.layers) - 1
}

// decide settles the input's layout when an operator shows it.
func (t *impTranslator) decide(nchw bool) {
	if t.inputLayout != impUndecided {
		return
	}
	t.inputLayout = impNHWC
	if nchw {
		t.inputLayout = impNCHW
	}
	for _, v := range t.vals {
		if v.a != nil && v.a.layout == impUndecided {
			v.a.layout = t.inputLayout
		}
	}
}

// weights returns the layers' parameters in the checker's order.
func (t *impTranslator) weights() []runtime.NamedTensor {
	var ws []runtime.NamedTensor
	for _, l := range t.layers {
		if l.kind != "Conv2D" && l.kind != "Dense" {
			continue
		}
		ws = append(ws, runtime.NamedTensor{Name: l.name + "/kernel", Shape: l.wShape, Data: l.w})
		if l.useBias {
			ws = append(ws, runtime.NamedTensor{Name: l.name + "/bias", Shape: []int{len(l.b)}, Data: l.b})
		}
	}
	return ws
}

// translate walks the graph.
func (t *impTranslator) translate(g *onnxpb.GraphProto) {
	if len(g.GetSparseInitializer()) > 0 {
		t.errorf("the graph has sparse initializers, which convc does not read")
	}
	for _, init := range g.GetInitializer() {
		c, err := impTensor(init)
		if err != nil {
			t.errorf("initializer %q: %v", dsl.Printable(init.GetName()), err)
			t.vals[init.GetName()] = &impValue{}
			continue
		}
		t.vals[init.GetName()] = &impValue{c: c}
	}
	var inputs []*onnxpb.ValueInfoProto
	for _, in := range g.GetInput() {
		if _, ok := t.vals[in.GetName()]; !ok {
			inputs = append(inputs, in)
		}
	}
	if len(inputs) != 1 {
		var names []string
		for _, in := range inputs {
			names = append(names, strconv.Quote(dsl.Printable(in.GetName())))
		}
		t.errorf("the graph has %d inputs (%s); convc models take one image or vector", len(inputs), strings.Join(names, ", "))
		return
	}
	inputName := inputs[0].GetName()
	input := &impLayer{kind: "Input"}
	t.add(input)
	act := t.input(inputs[0])
	if act == nil {
		return
	}
	input.nodes = []string{fmt.Sprintf("input %q %s", inputName, (&impNode{t: t}).dims(act))}
	t.vals[inputName] = &impValue{a: act}
	for _, n := range g.GetNode() {
		for _, in := range n.GetInput() {
			t.uses[in]++
			t.consumers[in] = append(t.consumers[in], n)
		}
	}
	for _, out := range g.GetOutput() {
		t.uses[out.GetName()]++
	}
	for i, n := range g.GetNode() {
		t.node(i, n)
	}
	if len(t.errs) == 0 {
		t.finish(g)
	}
	switch t.inputLayout {
	case impNHWC:
		input.shape = slices.Clone(t.inputDims)
	case impVector:
		input.shape = t.inputDims
	default:
		d := t.inputDims
		input.shape = []int{d[1], d[2], d[0]}
	}
}

// input reads the graph's input: a float32 tensor [N, C, H, W] or
// [N, H, W, C], or [N, D].
func (t *impTranslator) input(vi *onnxpb.ValueInfoProto) *impAct {
	name := strconv.Quote(dsl.Printable(vi.GetName()))
	tt := vi.GetType().GetTensorType()
	if tt == nil {
		t.errorf("the graph's input %s is not a tensor", name)
		return nil
	}
	if dt := tt.GetElemType(); dt != int32(onnxpb.TensorProto_FLOAT) {
		t.errorf("the graph's input %s is %s; convc models take float32 (re-export the model with a float32 input)", name, impDTypeName(dt))
		return nil
	}
	if tt.GetShape() == nil {
		t.errorf("the graph's input %s has no shape; convc needs the input's size (export with a fixed input size)", name)
		return nil
	}
	dims := tt.GetShape().GetDim()
	if len(dims) != 4 && len(dims) != 2 {
		t.errorf("the graph's input %s has rank %d; convc takes images [N, C, H, W] (or [N, H, W, C]) and vectors [N, D]", name, len(dims))
		return nil
	}
	t.batch = impBatch
	if v := dims[0].GetDimValue(); v > 0 {
		t.batch = v
	}
	var ds []int
	for i, d := range dims[1:] {
		v := d.GetDimValue()
		if v <= 0 || v > 1<<24 {
			what := fmt.Sprintf("is %d", v)
			if p := d.GetDimParam(); p != "" {
				what = fmt.Sprintf("is symbolic (%q)", dsl.Printable(p))
			}
			t.errorf("the graph's input %s: dimension %d %s; convc needs every size but the batch's (export with a fixed input size)", name, i+1, what)
			return nil
		}
		ds = append(ds, int(v))
	}
	size := 1
	for _, d := range ds {
		if size *= d; size > impMaxElems {
			t.errorf("the graph's input %s %v has more than %d elements per sample, convc's limit", name, ds, impMaxElems)
			return nil
		}
	}
	t.inputDims = ds
	if len(ds) == 1 {
		t.inputLayout = impVector
		return &impAct{shape: ds, layout: impVector, target: -1, rescale: -1}
	}
	t.imageInput = true
	return &impAct{shape: slices.Clone(ds), layout: impUndecided, target: -1, rescale: -1}
}

// finish checks the graph's output: the end of the chain.
func (t *impTranslator) finish(g *onnxpb.GraphProto) {
	outs := g.GetOutput()
	if len(outs) != 1 {
		t.errorf("the graph has %d outputs; convc models have one", len(outs))
		return
	}
	name := outs[0].GetName()
	v := t.vals[name]
	switch {
	case v == nil:
		t.errorf("the graph's output %q is made by no node", dsl.Printable(name))
		return
	case v.a == nil:
		t.errorf("the graph's output %q is a constant, which does not depend on the input", dsl.Printable(name))
		return
	case v.a.consumer != "":
		t.errorf("the graph's output %q is also taken by node %s; convc models are a chain with the output at its end", dsl.Printable(name), v.a.consumer)
		return
	}
	for n, w := range t.vals {
		if w.a != nil && w.a.consumer == "" && n != name {
			t.errorf("tensor %q leads nowhere: no node takes it and it is not the graph's output", dsl.Printable(n))
		}
	}
	a := v.a
	if len(a.chw) == 3 && a.chw[0] > 1 && a.chw[1]*a.chw[2] > 1 {
		t.errorf("the graph's output %q is an NCHW image flattened channel by channel; convc's Flatten takes the channels last, so its output would be in another order; end the graph before the flatten (and flatten the output yourself), or add a Gemm after it", dsl.Printable(name))
	}
	if a.image() {
		t.outputNCHW = a.layout != impNHWC
	}
	if !t.hasWeights() && t.identity(a) < 0 {
		t.errorf("the graph has no Conv, Gemm or MatMul; convc models need a layer with weights, and an identity layer over %d channels would be too large", a.shape[0])
	}
}

// impMaxIdentity bounds the channels of an identity layer, whose kernel
// has their square.
const impMaxIdentity = 4096

// hasWeights reports whether a layer with weights has been made.
func (t *impTranslator) hasWeights() bool {
	for _, l := range t.layers {
		if l.kind == "Conv2D" || l.kind == "Dense" {
			return true
		}
	}
	return false
}

// identity appends a layer that passes its input through unchanged: a
// 1x1 Conv2D or a Dense with an identity kernel and no bias, exact in
// float32. A convc model needs a layer with weights, and a graph of only
// pooling, dropout or an activation (as ONNX's node tests are) has none;
// the layer also carries an activation that nothing before could take.
// It returns the layer's index, or -1 when the layer would be too large.
func (t *impTranslator) identity(a *impAct) int {
	if a.layout == impUndecided {
		t.decide(true)
	}
	n := a.shape[len(a.shape)-1]
	l := &impLayer{kind: "Dense", units: n, wShape: []int{n, n}, nodes: []string{"identity"},
		notes: []string{"an identity layer, exact: convc models need a layer with weights, and convc has no standalone activation"}}
	if a.image() {
		n = a.shape[0]
		if a.layout == impNHWC {
			n = a.shape[2]
		}
		l.kind, l.filters, l.kernel, l.strides, l.padding, l.wShape = "Conv2D", n, [2]int{1, 1}, [2]int{1, 1}, "valid", []int{1, 1, n, n}
	}
	if n > impMaxIdentity {
		return -1
	}
	l.w = make([]float32, n*n)
	for i := range n {
		l.w[i*n+i] = 1
	}
	return t.add(l)
}

// impNode is one node being translated.
type impNode struct {
	*onnxpb.NodeProto
	t        *impTranslator
	idx      int
	attrs    impAttrs
	ins      []*impValue // nil for an omitted optional input
	act      *impAct     // the activation input, if any
	dynIdx   int         // its position among the inputs
	problems []string
}

// label names the node in messages: "Conv_0", or #3 when it has no name.
func (n *impNode) label() string {
	if n.GetName() != "" {
		return strconv.Quote(dsl.Printable(n.GetName()))
	}
	return fmt.Sprintf("#%d", n.idx)
}

// ref names the node in the spec's comments: Conv_0, or Conv#3.
func (n *impNode) ref() string {
	if n.GetName() != "" {
		return n.GetName()
	}
	return fmt.Sprintf("%s#%d", n.GetOpType(), n.idx)
}

func (n *impNode) refuse(format string, args ...any) {
	n.problems = append(n.problems, fmt.Sprintf(format, args...))
}

// check reports an attribute error.
func (n *impNode) check(err error) {
	if err != nil {
		n.refuse("%v", err)
	}
}

func (n *impNode) int(name string, def int64) int64 {
	v, err := n.attrs.int(name, def)
	n.check(err)
	return v
}

func (n *impNode) float(name string, def float64) float64 {
	v, err := n.attrs.float(name, def)
	n.check(err)
	return v
}

func (n *impNode) str(name, def string) string {
	v, err := n.attrs.str(name, def)
	n.check(err)
	return v
}

func (n *impNode) ints(name string) []int64 {
	v, err := n.attrs.ints(name)
	n.check(err)
	return v
}

// in returns input i, or nil when it is absent.
func (n *impNode) in(i int) *impValue {
	if i < len(n.ins) {
		return n.ins[i]
	}
	return nil
}

// constIn returns input i as a constant, refusing an activation there;
// it returns nil when the input is absent.
func (n *impNode) constIn(i int, what string) *impConst {
	v := n.in(i)
	if v == nil {
		return nil
	}
	if v.c == nil {
		n.refuse("its %s is computed from the input; convc needs it constant", what)
		return nil
	}
	return v.c
}

// weightData returns a constant's values as float32 weights.
func (n *impNode) weightData(c *impConst, what string) []float32 {
	if c.isInt {
		n.refuse("its %s is %s; weights must be floating point", what, c.dtype)
		return nil
	}
	if c.dtype != "FLOAT" && !slices.Contains(n.t.converted, c.dtype) {
		n.t.converted = append(n.t.converted, c.dtype)
	}
	w := make([]float32, c.size())
	for i := range w {
		v := c.float(i)
		f := float32(v)
		if math.IsNaN(v) || math.IsInf(float64(f), 0) {
			n.refuse("its %s holds %v, which is not a finite float32", what, v)
			return nil
		}
		w[i] = f
	}
	return w
}

// image checks that the activation is an NCHW image, settling the input's
// layout, and returns its (C, H, W).
func (n *impNode) image(a *impAct) []int {
	switch {
	case !a.image():
		n.refuse("takes a tensor of shape %s; %s needs an NCHW image", n.dims(a), n.GetOpType())
		return nil
	case a.layout == impNHWC:
		n.refuse("takes an NHWC tensor %s, which ONNX reads as NCHW; convc follows NHWC data only into a Transpose to NCHW or a Flatten", n.dims(a))
		return nil
	}
	n.t.decide(true)
	return a.shape
}

// dims formats an activation's ONNX shape: [N, 3, 32, 32].
func (n *impNode) dims(a *impAct) string {
	s := []string{"N"}
	if n.t.batch != impBatch {
		s[0] = strconv.FormatInt(n.t.batch, 10)
	}
	for _, d := range a.shape {
		s = append(s, strconv.Itoa(d))
	}
	return "[" + strings.Join(s, ", ") + "]"
}

// node translates one node.
func (t *impTranslator) node(idx int, np *onnxpb.NodeProto) {
	n := &impNode{NodeProto: np, t: t, idx: idx, attrs: impAttrs{}, dynIdx: -1}
	for _, a := range np.GetAttribute() {
		n.attrs[a.GetName()] = a
	}
	op := np.GetOpType()
	bad := false
	var dyn []int
	for i, name := range np.GetInput() {
		if name == "" {
			n.ins = append(n.ins, nil)
			continue
		}
		v, ok := t.vals[name]
		if !ok {
			n.refuse("takes %q, which no earlier node, initializer or graph input makes (the nodes must be in topological order)", dsl.Printable(name))
			v = &impValue{}
		}
		n.ins = append(n.ins, v)
		switch {
		case v.a != nil:
			dyn = append(dyn, i)
		case v.c == nil:
			bad = true
		}
	}
	var outs []*impValue
	switch d := np.GetDomain(); {
	case d != "" && d != "ai.onnx":
		n.refuse("operator %s of domain %q is not one of ONNX's standard operators; convc has no layer for it", op, dsl.Printable(d))
	case len(dyn) > 1:
		n.refuse("takes two activations (%q and %q), as a residual connection or a concatenation does; convc models are a single chain of layers", dsl.Printable(np.GetInput()[dyn[0]]), dsl.Printable(np.GetInput()[dyn[1]]))
		for _, i := range dyn {
			if a := n.ins[i].a; a.consumer == "" {
				a.consumer = n.label()
			}
		}
		// Go on as if it took the first, to check the nodes after it.
		n.act = n.ins[dyn[0]].a
	}
	if len(dyn) == 1 {
		n.dynIdx = dyn[0]
		n.act = n.ins[dyn[0]].a
		if op != "Shape" {
			if c := n.act.consumer; c != "" {
				n.refuse("takes %q, which node %s takes too: the graph branches there, and convc models are a single chain", dsl.Printable(np.GetInput()[dyn[0]]), c)
			} else {
				n.act.consumer = n.label()
			}
		}
	}
	switch {
	case len(n.problems) > 0 || bad:
		if n.act != nil && n.act.shape == nil {
			impAttrsOnly(n)
		}
	case n.act == nil:
		fold := impFolds[op]
		if fold == nil {
			if _, known := impOps[op]; known {
				n.refuse("%s of constants is not folded by convc", op)
			} else {
				n.refuse("%s", impUnsupportedWhy(op))
			}
			break
		}
		c, err := fold(n)
		if err != nil {
			n.refuse("%v", err)
			break
		}
		if len(n.problems) == 0 {
			outs = []*impValue{{c: c}}
		}
	case n.act.pad != nil && op != "Conv" && op != "AveragePool" && op != "Identity":
		// The Pad node reported this already.
	default:
		h := impOps[op]
		if h == nil {
			n.refuse("%s", impUnsupportedWhy(op))
			break
		}
		if n.act.shape == nil && op != "Identity" {
			// After a refused node that changes the shape, only the
			// attributes can be checked.
			impAttrsOnly(n)
			break
		}
		outs = h(n)
	}
	if len(n.problems) > 0 {
		t.errs = append(t.errs, fmt.Sprintf("%s: node %s (%s): %s", t.file, n.label(), dsl.Printable(op), strings.Join(n.problems, "; ")))
		outs = nil
	}
	if outs == nil && n.act != nil {
		// Go on with what the refused node would make, to report the
		// nodes after it too.
		a := &impAct{target: -1, rescale: -1, layout: n.act.layout}
		if impKeepsShape[op] || op == "Identity" {
			a.shape = n.act.shape
		} else if (op == "GlobalAveragePool" || op == "GlobalMaxPool") && n.act.image() {
			a.shape = []int{n.act.shape[0], 1, 1}
		}
		outs = []*impValue{{a: a}}
	}
	for i, name := range np.GetOutput() {
		if name == "" {
			continue
		}
		if i < len(outs) {
			t.vals[name] = outs[i]
		} else {
			t.vals[name] = &impValue{}
		}
	}
}

// impKeepsShape lists refused operators whose output has their input's
// shape, so that the nodes after them are still checked in full.
var impKeepsShape = map[string]bool{}

func init() {
	for _, op := range strings.Fields("BatchNormalization InstanceNormalization LayerNormalization LRN LeakyRelu PRelu Elu Selu Celu Gelu HardSigmoid HardSwish Softplus Softsign Mish Clip ThresholdedRelu Exp Log Abs Neg Sqrt Reciprocal Floor Ceil Round Erf Sin Cos LogSoftmax Hardmax Add Mul Sub Div Pow Max Min Sum Mean Not Cast Relu Sigmoid Tanh Softmax Dropout") {
		impKeepsShape[op] = true
	}
}

// impUnsupportedWhy says why convc cannot import an operator and what
// would be needed.
func impUnsupportedWhy(op string) string {
	switch op {
	case "LogSoftmax":
		return "convc has no log-softmax activation; export the model ending in Softmax"
	case "LeakyRelu", "PRelu", "Elu", "Selu", "Celu", "Gelu", "HardSigmoid", "HardSwish", "Softplus", "Softsign", "Mish", "Clip", "ThresholdedRelu":
		return "convc's activations are relu, sigmoid, tanh and softmax; " + op + " would need a new activation"
	case "InstanceNormalization", "LayerNormalization", "LRN", "GroupNormalization":
		return "convc has no normalization layers"
	case "ConvTranspose":
		return "convc has no transposed convolution"
	case "Resize", "Upsample":
		return "convc has no resizing layer"
	case "LSTM", "GRU", "RNN":
		return "convc has no recurrent layers"
	case "Concat":
		return "convc models are a single chain and have no concatenation"
	}
	return fmt.Sprintf("convc has no layer for %s; it imports Conv, MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool, BatchNormalization after a Conv or Gemm, Relu, Sigmoid, Tanh, Softmax, Flatten, Reshape, Gemm, MatMul, Dropout, the Transposes between NCHW and NHWC, zero Pad, and constant Add, Sub, Mul and Div", dsl.Printable(op))
}

// impAttrsOnly checks what it can of a node whose input shape is unknown,
// after a refused node, so that its problems are reported too.
func impAttrsOnly(n *impNode) {
	switch n.GetOpType() {
	case "Conv":
		if g := n.int("group", 1); g != 1 {
			n.refuse("group=%d is not supported; convc has no grouped or depthwise convolution", g)
		}
		impNoDilation(n)
	case "MaxPool", "AveragePool":
		impNoDilation(n)
		ks, pads := n.ints("kernel_shape"), n.ints("pads")
		if len(ks) == 2 && len(pads) == 4 {
			for i, p := range pads {
				if p >= ks[i%2] {
					n.refuse("pads (top, left, bottom, right) %v reach as far as its %dx%d window, so a window could hold only padding; convc needs each pad smaller than the window", pads, ks[0], ks[1])
					break
				}
			}
		}
		if n.int("storage_order", 0) != 0 {
			n.refuse("storage_order=1 is not supported")
		}
	case "Pad":
		if mode := n.str("mode", "constant"); mode != "constant" {
			n.refuse("mode %q is not supported; convc pads with zeros", dsl.Printable(mode))
		}
	case "Flatten":
		if axis := n.int("axis", 1); axis != 1 && axis != -3 {
			n.refuse("Flatten with axis=%d; convc flattens everything but the batch dimension (axis=1)", axis)
		}
	case "Transpose":
		perm := n.ints("perm")
		if !slices.Equal(perm, []int64{0, 3, 1, 2}) && !slices.Equal(perm, []int64{0, 2, 3, 1}) && !slices.Equal(perm, []int64{0, 1, 2, 3}) && !slices.Equal(perm, []int64{0, 1}) {
			n.refuse("Transpose with perm %v; convc follows only the transposes between NCHW and NHWC ([0, 3, 1, 2] and [0, 2, 3, 1])", perm)
		}
	case "Gemm":
		if n.int("transA", 0) != 0 {
			n.refuse("transA=1 is not supported; convc's Dense takes the activation as it is")
		}
	}
}

func impNoDilation(n *impNode) {
	for _, d := range n.ints("dilations") {
		if d != 1 {
			n.refuse("dilations %v are not supported; convc has no dilated convolution or pooling", n.ints("dilations"))
			return
		}
	}
}

// impOp translates a node that takes the activation. It returns the
// node's outputs, or nil after refusing it.
type impOp func(n *impNode) []*impValue

var impOps map[string]impOp

func init() {
	impOps = map[string]impOp{
		"Identity":    impIdentity,
		"Shape":       impShape,
		"Conv":        impConv,
		"MaxPool":     impPool,
		"AveragePool": impPool,
		"Relu":        impActivation,
		"Sigmoid":     impActivation,
		"Tanh":        impActivation,
		"Softmax":     impSoftmax,
		"Flatten":     impFlatten,
		"Reshape":     impReshape,
		"Gemm":        impGemm,
		"MatMul":      impMatMul,
		"Add":         impArithmetic,
		"Sub":         impArithmetic,
		"Mul":         impArithmetic,
		"Div":         impArithmetic,
		"Dropout":     impDropout,
		"Transpose":   impTranspose,
		"Pad":         impPadOp,

		"BatchNormalization": impBatchNorm,
		"GlobalAveragePool":  impGlobalPool,
		"GlobalMaxPool":      impGlobalPool,
		"ReduceMean":         impReduce,
		"ReduceMax":          impReduce,
		"Squeeze":            impSqueeze,
	}
}

// impAxes returns a node's axes, an attribute before opset version since
// and an input from it, made non-negative for a tensor of rank r; nil
// when there are none.
func (n *impNode) axes(since int64, r int) []int {
	var ax []int64
	if n.t.opset < since {
		ax = n.ints("axes")
	} else if c := n.constIn(1, "axes"); c != nil {
		v, ok := c.ints()
		if !ok {
			n.refuse("its axes are not integers")
			return nil
		}
		ax = v
	}
	var out []int
	for _, a := range ax {
		if a < 0 {
			a += int64(r)
		}
		if a < 0 || a >= int64(r) {
			n.refuse("axis %d is out of range for a tensor of rank %d", a, r)
			return nil
		}
		out = append(out, int(a))
	}
	slices.Sort(out)
	return out
}

// spatial returns the axes of an image's height and width in its layout,
// counting the batch dimension.
func impSpatial(a *impAct) []int {
	if a.layout == impNHWC {
		return []int{1, 2}
	}
	return []int{2, 3}
}

// impReduce maps ReduceMean and ReduceMax over an image's height and
// width, what tf2onnx writes for Keras's GlobalAveragePooling2D and
// GlobalMaxPooling2D, to a pool whose window is the whole image, followed
// by Flatten when keepdims is 0.
func impReduce(n *impNode) []*impValue {
	a := n.act
	since := int64(18)
	axes := n.axes(since, len(a.shape)+1)
	keep := n.int("keepdims", 1)
	if len(n.problems) > 0 {
		return nil
	}
	if !a.image() || a.layout == impUndecided || !slices.Equal(axes, impSpatial(a)) {
		n.refuse("it reduces axes %v of a tensor of shape %s; convc maps only a reduction over an image's height and width, as a global pool", axes, n.dims(a))
		return nil
	}
	h, w, c := a.shape[1], a.shape[2], a.shape[0]
	if a.layout == impNHWC {
		h, w, c = a.shape[0], a.shape[1], a.shape[2]
	}
	kind := "AveragePooling2D"
	if n.GetOpType() == "ReduceMax" {
		kind = "MaxPooling2D"
	}
	k := [2]int{h, w}
	n.t.add(&impLayer{kind: kind, kernel: k, strides: k, padding: "valid", nodes: []string{n.ref()}})
	out := &impAct{shape: []int{c, 1, 1}, layout: a.layout, target: -1, rescale: -1}
	if a.layout == impNHWC {
		out.shape = []int{1, 1, c}
	}
	if kind == "MaxPooling2D" && a.target >= 0 {
		out.target = a.target
		out.via = append(slices.Clone(a.via), impVia{n.ref(), "global max pooling"})
	}
	if keep != 0 {
		return impOut(out)
	}
	return n.flatten(out)
}

// impSqueeze maps a Squeeze of the 1x1 image that a global pool leaves to
// Flatten.
func impSqueeze(n *impNode) []*impValue {
	a := n.act
	axes := n.axes(13, len(a.shape)+1)
	if len(n.problems) > 0 {
		return nil
	}
	if a.image() && a.layout != impUndecided && (axes == nil || slices.Equal(axes, impSpatial(a))) {
		sp := impSpatial(a)
		if a.shape[sp[0]-1] == 1 && a.shape[sp[1]-1] == 1 {
			return n.flatten(a)
		}
	}
	n.refuse("it squeezes axes %v of a tensor of shape %s; convc maps only the squeeze of a 1x1 image's height and width, as Flatten", axes, n.dims(a))
	return nil
}

// impBatchNorm folds BatchNormalization in inference, y = (x - mean) /
// sqrt(var + epsilon) * scale + B per channel, into the kernel and bias of
// the Conv2D or Dense right before it: the kernel is multiplied by s =
// scale / sqrt(var + epsilon) and the bias becomes (b - mean) * s + B,
// computed in float64. The result is the same function up to float32
// rounding. convc has no BatchNormalization layer, so one that does not
// follow a layer directly (after an activation, say) is refused.
func impBatchNorm(n *impNode) []*impValue {
	a := n.act
	if n.int("training_mode", 0) != 0 {
		n.refuse("training_mode=1 computes the batch's statistics; convc folds only inference-mode BatchNormalization (export the model in eval mode)")
	}
	for i, out := range n.GetOutput() {
		if i > 0 && out != "" && n.t.uses[out] > 0 {
			n.refuse("its running-statistics output %q is used; convc folds only inference-mode BatchNormalization", dsl.Printable(out))
		}
	}
	if n.dynIdx != 0 {
		n.refuse("its statistics are computed from the input; convc needs them constant")
	}
	if len(n.problems) > 0 {
		return nil
	}
	if !a.fresh || a.target < 0 {
		n.refuse("it does not follow a Conv or Gemm directly; convc has no BatchNormalization layer and folds it only into the kernel and bias of the Conv2D or Dense right before it")
		return nil
	}
	l := n.t.layers[a.target]
	nout := l.units
	if l.kind == "Conv2D" {
		nout = l.filters
	}
	names := []string{"", "scale", "B", "input_mean", "input_var"}
	var p [5][]float64
	for i := 1; i <= 4; i++ {
		c := n.constIn(i, names[i])
		if c == nil {
			if len(n.problems) == 0 {
				n.refuse("it has no %s input", names[i])
			}
			return nil
		}
		if c.isInt || c.size() != nout {
			n.refuse("its %s has shape %s; it needs %d floats, one per channel of %s", names[i], impDims(c.shape), nout, strings.Join(l.nodes, " + "))
			return nil
		}
		p[i] = make([]float64, nout)
		for o := range nout {
			p[i][o] = c.float(o)
		}
	}
	eps := n.float("epsilon", 1e-5)
	if !l.useBias {
		l.useBias, l.b = true, make([]float32, nout)
	}
	s := make([]float64, nout)
	for o := range nout {
		v := p[4][o] + eps
		if !(v > 0) {
			n.refuse("its variance plus epsilon is %v for channel %d; it must be positive", v, o)
			return nil
		}
		s[o] = p[1][o] / math.Sqrt(v)
	}
	w := slices.Clone(l.w)
	for j := range w {
		w[j] = float32(float64(w[j]) * s[j%nout])
	}
	b := make([]float32, nout)
	for o := range nout {
		b[o] = float32((float64(l.b[o])-p[3][o])*s[o] + p[2][o])
	}
	for _, v := range append(slices.Clone(w), b...) {
		if math.IsInf(float64(v), 0) || math.IsNaN(float64(v)) {
			n.refuse("folding it into %s makes weights beyond float32's range", strings.Join(l.nodes, " + "))
			return nil
		}
	}
	l.w, l.b = w, b
	l.nodes = append(l.nodes, n.ref())
	return impOut(a.clone())
}

// impGlobalPool maps GlobalAveragePool and GlobalMaxPool to a pool whose
// window is the whole image, which gives (C, 1, 1).
func impGlobalPool(n *impNode) []*impValue {
	a := n.act
	if a.pad != nil {
		n.refuse("it takes the output of Pad %s; convc folds a zero Pad only into a Conv or AveragePool", a.pad.node)
		return nil
	}
	chw := n.image(a)
	if chw == nil {
		return nil
	}
	kind := "AveragePooling2D"
	if n.GetOpType() == "GlobalMaxPool" {
		kind = "MaxPooling2D"
	}
	k := [2]int{chw[1], chw[2]}
	n.t.add(&impLayer{kind: kind, kernel: k, strides: k, padding: "valid", nodes: []string{n.ref()}})
	out := &impAct{shape: []int{chw[0], 1, 1}, layout: impNCHW, target: -1, rescale: -1}
	if kind == "MaxPooling2D" && a.target >= 0 {
		// A monotone activation commutes with the maximum.
		out.target = a.target
		out.via = append(slices.Clone(a.via), impVia{n.ref(), "global max pooling"})
	}
	return impOut(out)
}

func impOut(a *impAct) []*impValue { return []*impValue{{a: a}} }

func impIdentity(n *impNode) []*impValue { return impOut(n.act.clone()) }

// impShape folds Shape of the activation: its static dims, with the batch
// dimension symbolic unless the input fixes it.
func impShape(n *impNode) []*impValue {
	dims := []int64{n.t.batch}
	for _, d := range n.act.shape {
		dims = append(dims, int64(d))
	}
	r := int64(len(dims))
	start, end := n.int("start", 0), n.int("end", r)
	norm := func(v int64) int64 {
		if v < 0 {
			v += r
		}
		return min(max(v, 0), r)
	}
	start, end = norm(start), norm(end)
	if end < start {
		end = start
	}
	out := slices.Clone(dims[start:end])
	if len(n.problems) > 0 {
		return nil
	}
	return []*impValue{{c: &impConst{shape: []int{len(out)}, isInt: true, i: out, dtype: "INT64"}}}
}

// impGeom is the resolved geometry of a Conv or a pool.
type impGeom struct {
	strides [2]int
	padding string
	pads    [4]int // top, bottom, left, right
	out     [2]int
	// ownPads is true when the node pads by itself, besides a Pad
	// before it.
	ownPads bool
}

// impWindow resolves strides, pads, auto_pad and ceil_mode for a window
// of size k over in (height, width) for a Conv, MaxPool or AveragePool
// node, with extra zero padding (top, bottom, left, right) from a Pad node
// before it; cip is true when padded cells count in an average.
func impWindow(n *impNode, in, k [2]int, extra [4]int, cip bool) *impGeom {
	kind := n.GetOpType()
	g := &impGeom{strides: [2]int{1, 1}}
	if s := n.ints("strides"); s != nil {
		if len(s) != 2 || s[0] < 1 || s[1] < 1 || s[0] > 1<<24 || s[1] > 1<<24 {
			n.refuse("strides %v are not two positive numbers", s)
			return nil
		}
		g.strides = [2]int{int(s[0]), int(s[1])}
	}
	var pads [4]int64
	if p := n.ints("pads"); p != nil {
		if len(p) != 4 {
			n.refuse("pads %v are not four numbers (top, left, bottom, right)", p)
			return nil
		}
		for _, v := range p {
			if v < 0 {
				n.refuse("pads %v are negative, which crops; convc does not crop", p)
				return nil
			}
			if v > 1<<24 {
				n.refuse("pads %v are too large", p)
				return nil
			}
		}
		pads = [4]int64(p)
	}
	autoPad := n.str("auto_pad", "NOTSET")
	ceil := n.int("ceil_mode", 0) != 0
	if len(n.problems) > 0 {
		return nil
	}
	for i := range 2 {
		s := g.strides[i]
		var b, e int
		switch autoPad {
		case "NOTSET", "":
			b, e = int(pads[i]), int(pads[i+2])
			g.ownPads = g.ownPads || b > 0 || e > 0
		case "VALID":
		case "SAME_UPPER", "SAME_LOWER":
			out := (in[i] + s - 1) / s
			total := max((out-1)*s+k[i]-in[i], 0)
			b, e = total/2, total-total/2
			if autoPad == "SAME_LOWER" {
				b, e = e, b
			}
			g.ownPads = g.ownPads || total > 0
		default:
			n.refuse("auto_pad %q is not one of NOTSET, VALID, SAME_UPPER and SAME_LOWER", dsl.Printable(autoPad))
			return nil
		}
		b += extra[2*i]
		e += extra[2*i+1]
		span := in[i] + b + e - k[i]
		if span < 0 {
			n.refuse("its %dx%d window is larger than its padded input (%d + %d + %d %s)", k[0], k[1], b, in[i], e, [2]string{"rows", "columns"}[i])
			return nil
		}
		out := span/s + 1
		if ceil && (autoPad == "NOTSET" || autoPad == "" || autoPad == "VALID") {
			oc := (span+s-1)/s + 1
			if oc != out {
				// PyTorch and onnxruntime drop a last window that would
				// start in the end padding, and ONNX's formula does not.
				if (oc-1)*s >= in[i]+b {
					n.refuse("ceil_mode=1 adds a window that starts past the input, on which engines disagree; use ceil_mode=0 or other pads")
					return nil
				}
				if cip {
					n.refuse("ceil_mode=1 adds a partial window at the bottom or right, whose average over counted padding convc cannot represent; use ceil_mode=0 or count_include_pad=0")
					return nil
				}
				// Max pooling, and average pooling that does not count
				// padding, ignore padded cells: the partial window is the
				// window over more padding.
				e += (oc-1)*s + k[i] - (in[i] + b + e)
				out = oc
			}
		}
		g.pads[2*i], g.pads[2*i+1] = b, e
		g.out[i] = out
	}
	same := true
	for i := range 2 {
		s := g.strides[i]
		out := (in[i] + s - 1) / s
		total := max((out-1)*s+k[i]-in[i], 0)
		same = same && g.pads[2*i] == total/2 && g.pads[2*i+1] == total-total/2
	}
	switch {
	case g.pads == [4]int{}:
		g.padding = "valid"
	case same && !cip:
		g.padding = "same"
	default:
		g.padding = "explicit"
		if kind != "Conv" {
			for i := range 2 {
				if g.pads[2*i] >= k[i] || g.pads[2*i+1] >= k[i] {
					n.refuse("pads (top, bottom, left, right) %v reach as far as its %dx%d window, so a window could hold only padding; convc needs each pad smaller than the window", g.pads, k[0], k[1])
					return nil
				}
			}
		}
	}
	return g
}

// impConv maps Conv to Conv2D.
func impConv(n *impNode) []*impValue {
	a := n.act
	if n.dynIdx != 0 {
		n.refuse("its weights are computed from the input; convc needs constant weights")
		return nil
	}
	w := n.constIn(1, "weights W")
	b := n.constIn(2, "bias B")
	if g := n.int("group", 1); g != 1 {
		n.refuse("group=%d is not supported; convc has no grouped or depthwise convolution", g)
	}
	impNoDilation(n)
	if w == nil || len(n.problems) > 0 {
		if w == nil && n.in(1) == nil {
			n.refuse("it has no weights")
		}
		return nil
	}
	if len(w.shape) != 4 {
		n.refuse("it is a %d-D convolution (weights %s); convc's Conv2D is 2-D", len(w.shape)-2, impDims(w.shape))
		return nil
	}
	cout, cin, kh, kw := w.shape[0], w.shape[1], w.shape[2], w.shape[3]
	if ks := n.ints("kernel_shape"); ks != nil && !slices.Equal(ks, []int64{int64(kh), int64(kw)}) {
		n.refuse("kernel_shape %v does not match its weights %s", ks, impDims(w.shape))
	}
	if b != nil && b.size() != cout {
		n.refuse("its bias has shape %s; its %d filters need %d", impDims(b.shape), cout, cout)
	}
	var pad impPad
	shape := a.shape
	if a.pad != nil {
		pad, shape = *a.pad, a.pad.pre
	}
	chw := n.image(&impAct{shape: shape, layout: a.layout})
	if chw == nil || len(n.problems) > 0 {
		return nil
	}
	if chw[0] != cin {
		n.refuse("its weights %s take %d channels, and its input %s has %d", impDims(w.shape), cin, n.dims(a), chw[0])
		return nil
	}
	geo := impWindow(n, [2]int{chw[1], chw[2]}, [2]int{kh, kw}, pad.pads, false)
	if geo == nil {
		return nil
	}
	wd := n.weightData(w, "weights W")
	var bias []float32
	if b != nil {
		bias = n.weightData(b, "bias B")
	}
	if len(n.problems) > 0 {
		return nil
	}
	// ONNX's (cout, cin, kh, kw) to convc's (kh, kw, cin, cout).
	k := make([]float32, len(wd))
	for o := range cout {
		for i := range cin {
			for y := range kh {
				for x := range kw {
					k[((y*kw+x)*cin+i)*cout+o] = wd[((o*cin+i)*kh+y)*kw+x]
				}
			}
		}
	}
	l := &impLayer{kind: "Conv2D", filters: cout, kernel: [2]int{kh, kw}, strides: geo.strides,
		padding: geo.padding, pads: geo.pads, useBias: b != nil, w: k, wShape: []int{kh, kw, cin, cout}, b: bias}
	if pad.node != "" {
		l.nodes = append(l.nodes, pad.node)
	}
	l.nodes = append(l.nodes, n.ref())
	idx := n.t.add(l)
	return impOut(&impAct{shape: []int{cout, geo.out[0], geo.out[1]}, layout: impNCHW, target: idx, fresh: true, rescale: -1})
}

// impPool maps MaxPool and AveragePool.
func impPool(n *impNode) []*impValue {
	a := n.act
	op := n.GetOpType()
	impNoDilation(n)
	ks := n.ints("kernel_shape")
	if ks == nil {
		n.refuse("it has no kernel_shape")
	} else if len(ks) != 2 || ks[0] < 1 || ks[1] < 1 || ks[0] > 1<<24 || ks[1] > 1<<24 {
		n.refuse("kernel_shape %v is not a 2-D window; convc pools over height and width", ks)
	}
	if op == "MaxPool" {
		if so := n.int("storage_order", 0); so != 0 {
			n.refuse("storage_order=%d is not supported", so)
		}
		if outs := n.GetOutput(); len(outs) > 1 && outs[1] != "" && n.t.uses[outs[1]] > 0 {
			n.refuse("its Indices output is used; convc's MaxPooling2D gives only the maximum")
		}
	}
	cip := op == "AveragePool" && n.int("count_include_pad", 0) != 0
	if len(n.problems) > 0 {
		return nil
	}
	var pad impPad
	shape := a.shape
	if a.pad != nil {
		pad, shape = *a.pad, a.pad.pre
	}
	chw := n.image(&impAct{shape: shape, layout: a.layout})
	if chw == nil {
		return nil
	}
	k := [2]int{int(ks[0]), int(ks[1])}
	counted := cip || pad.pads != [4]int{}
	geo := impWindow(n, [2]int{chw[1], chw[2]}, k, pad.pads, counted)
	if geo == nil {
		return nil
	}
	if pad.pads != [4]int{} && geo.ownPads && !cip {
		n.refuse("it averages over the zeros of Pad %s, which count, and over its own pads, which do not (count_include_pad=0); convc's AveragePooling2D counts all padding or none", pad.node)
		return nil
	}
	kind := "MaxPooling2D"
	if op == "AveragePool" {
		kind = "AveragePooling2D"
	}
	l := &impLayer{kind: kind, kernel: k, strides: geo.strides, padding: geo.padding, pads: geo.pads,
		countIncludePad: op == "AveragePool" && counted && geo.pads != [4]int{}}
	if pad.node != "" {
		l.nodes = append(l.nodes, pad.node)
	}
	l.nodes = append(l.nodes, n.ref())
	n.t.add(l)
	out := &impAct{shape: []int{chw[0], geo.out[0], geo.out[1]}, layout: impNCHW, target: -1, rescale: -1}
	if op == "MaxPool" && a.target >= 0 {
		// A monotone activation commutes with the maximum.
		out.target = a.target
		out.via = append(slices.Clone(a.via), impVia{n.ref(), "max pooling"})
	}
	return impOut(out)
}

// impActivation maps Relu, Sigmoid and Tanh onto the Conv2D or Dense
// layer before them.
func impActivation(n *impNode) []*impValue {
	a := n.act
	act := strings.ToLower(n.GetOpType())
	if a.target < 0 && !n.t.hasWeights() && (a.image() || len(a.shape) == 1) {
		// Before any layer with weights, an identity layer takes it.
		a = a.clone()
		a.target, a.via, a.fresh = n.t.identity(a), nil, true
	}
	if a.target < 0 {
		n.refuse("convc has no standalone activation layer: %s must follow a Conv, Gemm or MatMul, directly or through MaxPool, Flatten, Reshape or Dropout", n.GetOpType())
		return nil
	}
	l := n.t.layers[a.target]
	var kinds []string
	for _, v := range a.via {
		if !slices.Contains(kinds, v.kind) {
			kinds = append(kinds, v.kind)
		}
		if v.kind == "dropout" && act != "relu" {
			n.refuse("%s after Dropout %s cannot move onto %s before it: only relu commutes with dropout's scaling; convc has no standalone activation layer", n.GetOpType(), v.node, strings.Join(l.nodes, " + "))
			return nil
		}
	}
	repeat := false
	switch {
	case l.activation == "relu" && act == "relu":
		l.notes = append(l.notes, n.ref()+" repeats the relu")
		repeat = true
	case l.activation != "":
		n.refuse("%s follows %s, which already has activation %s; convc's layers take one activation", n.GetOpType(), strings.Join(l.nodes, " + "), l.activation)
		return nil
	default:
		l.activation = act
	}
	l.nodes = append(l.nodes, n.ref())
	if len(a.via) > 0 && !repeat {
		var from []string
		for _, v := range a.via {
			from = append(from, v.node)
		}
		l.notes = append(l.notes, fmt.Sprintf("%s moved from after %s: exact, as %s commutes with %s", n.ref(), strings.Join(from, ", "), act, strings.Join(kinds, ", ")))
		n.t.moved = append(n.t.moved, n.ref())
	}
	out := a.clone()
	out.fresh = false
	return impOut(out)
}

// impSoftmax maps Softmax onto the Dense layer before it.
func impSoftmax(n *impNode) []*impValue {
	a := n.act
	def := int64(-1)
	if n.t.opset < 13 {
		def = 1
	}
	axis := n.int("axis", def)
	if len(n.problems) > 0 {
		return nil
	}
	if len(a.shape) != 1 || (axis != 1 && axis != -1) {
		n.refuse("softmax over axis %d of %s; convc applies softmax to the units of a Dense layer, [N, units] with axis 1 or -1", axis, n.dims(a))
		return nil
	}
	if a.target < 0 && !n.t.hasWeights() {
		// Before any layer with weights, an identity Dense takes it.
		a = a.clone()
		a.target, a.via, a.fresh = n.t.identity(a), nil, true
	}
	if a.target < 0 || n.t.layers[a.target].kind != "Dense" || len(a.via) > 0 {
		n.refuse("Softmax must follow a Gemm or MatMul directly; convc has no standalone softmax layer")
		return nil
	}
	l := n.t.layers[a.target]
	if l.activation != "" {
		n.refuse("Softmax follows %s, which already has activation %s; convc's layers take one activation", strings.Join(l.nodes, " + "), l.activation)
		return nil
	}
	l.activation = "softmax"
	l.nodes = append(l.nodes, n.ref())
	out := a.clone()
	out.fresh = false
	return impOut(out)
}

// flatten makes a Flatten layer of an image activation.
func (n *impNode) flatten(a *impAct) []*impValue {
	if a.layout == impUndecided {
		// Nothing before shows the layout; both readings give the same
		// result. An image whose last dimension looks like channels is
		// taken as NHWC.
		d := a.shape
		n.t.decide(!(d[2] <= 4 && d[0] > 4))
	}
	out := &impAct{shape: []int{impSize(a.shape)}, layout: impVector, target: a.target, rescale: -1}
	if a.layout == impNCHW {
		out.chw = slices.Clone(a.shape)
	}
	if a.target >= 0 {
		out.via = append(slices.Clone(a.via), impVia{n.ref(), "flattening"})
	}
	n.t.add(&impLayer{kind: "Flatten", nodes: []string{n.ref()}})
	return impOut(out)
}

// impFlatten maps Flatten with axis 1.
func impFlatten(n *impNode) []*impValue {
	a := n.act
	axis := n.int("axis", 1)
	if len(n.problems) > 0 {
		return nil
	}
	r := int64(len(a.shape) + 1)
	if axis < 0 {
		axis += r
	}
	switch {
	case axis != 1:
		n.refuse("Flatten with axis=%d; convc flattens everything but the batch dimension (axis=1)", n.int("axis", 1))
		return nil
	case !a.image():
		return impOut(a.clone())
	}
	return n.flatten(a)
}

// impReshape maps a Reshape to [N, -1] (or [N, C*H*W]) to Flatten.
func impReshape(n *impNode) []*impValue {
	a := n.act
	var target []int64
	if c := n.constIn(1, "shape"); c != nil {
		var ok bool
		if target, ok = c.ints(); !ok {
			n.refuse("its shape is %s, not integers", c.dtype)
		}
	} else if n.in(1) == nil {
		target = n.ints("shape")
	}
	allowZero := n.int("allowzero", 0) != 0
	if n.dynIdx != 0 || len(n.problems) > 0 {
		return nil
	}
	size := int64(impSize(a.shape))
	in := append([]int64{n.t.batch}, make([]int64, len(a.shape))...)
	for i, d := range a.shape {
		in[i+1] = int64(d)
	}
	dims := slices.Clone(target)
	for i, d := range dims {
		if d == 0 && !allowZero && i < len(in) {
			dims[i] = in[i]
		}
	}
	batchLike := func(d int64) bool { return d == impBatch || (n.t.batch != impBatch && d == n.t.batch) }
	flat := len(dims) == 2 &&
		(batchLike(dims[0]) && (dims[1] == size || dims[1] == -1) ||
			dims[0] == -1 && dims[1] == size)
	if !flat {
		s := make([]string, len(target))
		for i, d := range target {
			switch d {
			case impBatch:
				s[i] = "N"
			case impUnknown:
				s[i] = "?"
			default:
				s[i] = strconv.FormatInt(d, 10)
			}
		}
		n.refuse("Reshape of %s to [%s] is not supported; convc reshapes only to flatten an image to [N, -1]", n.dims(a), strings.Join(s, ", "))
		return nil
	}
	if !a.image() {
		return impOut(a.clone())
	}
	return n.flatten(a)
}

// dense makes a Dense layer; weight(i, o) is the ONNX weight from input
// i to unit o.
func (n *impNode) dense(a *impAct, units int, weight func(i, o int) float32, bias []float32) []*impValue {
	in := a.shape[0]
	k := make([]float32, in*units)
	hw := 1
	if len(a.chw) == 3 {
		hw = a.chw[1] * a.chw[2]
	}
	f := a.affine
	var shift []float64 // o·W, from an affine input
	if f != nil {
		shift = make([]float64, units)
	}
	for j := range in {
		src := j
		if len(a.chw) == 3 {
			// convc flattens (h, w, c) as (h*W + w)*C + c, ONNX (c, h,
			// w) as c*H*W + h*W + w.
			c := a.chw[0]
			src = (j%c)*hw + j/c
		}
		for o := range units {
			w := weight(src, o)
			if f != nil {
				// (x*s + o)·W + b = x·(s*W) + (o·W + b), with s and o
				// per input element.
				shift[o] += f.offset[src] * float64(w)
				w = float32(f.scale[src] * float64(w))
			}
			k[j*units+o] = w
		}
	}
	var nodes []string
	if f != nil {
		nodes = f.nodes
		if bias == nil {
			bias = make([]float32, units)
		}
		for o := range units {
			bias[o] = float32(float64(bias[o]) + shift[o])
		}
		for _, w := range slices.Concat(k, bias) {
			if math.IsInf(float64(w), 0) || math.IsNaN(float64(w)) {
				n.refuse("folding %s into it makes weights beyond float32's range", strings.Join(f.nodes, " + "))
				return nil
			}
		}
	}
	l := &impLayer{kind: "Dense", units: units, useBias: bias != nil, w: k, wShape: []int{in, units}, b: bias, nodes: append(nodes, n.ref())}
	idx := n.t.add(l)
	return impOut(&impAct{shape: []int{units}, layout: impVector, target: idx, fresh: true, rescale: -1})
}

// vector checks that the activation is [N, D].
func (n *impNode) vector(a *impAct) bool {
	if len(a.shape) != 1 {
		n.refuse("takes %s; convc's Dense takes a vector [N, D]: flatten the image first", n.dims(a))
		return false
	}
	return true
}

// impGemm maps Gemm to Dense.
func impGemm(n *impNode) []*impValue {
	a := n.act
	if n.dynIdx != 0 {
		n.refuse("the activation is its B input; convc's Dense computes x·W with the activation as A")
		return nil
	}
	bc := n.constIn(1, "B")
	cc := n.constIn(2, "C")
	alpha, beta := n.float("alpha", 1), n.float("beta", 1)
	if n.int("transA", 0) != 0 {
		n.refuse("transA=1 is not supported; convc's Dense takes the activation as it is")
	}
	transB := n.int("transB", 0) != 0
	if bc == nil || len(n.problems) > 0 || !n.vector(a) {
		return nil
	}
	in := a.shape[0]
	if len(bc.shape) != 2 {
		n.refuse("its B has shape %s; a Dense kernel is 2-D", impDims(bc.shape))
		return nil
	}
	units := bc.shape[1]
	if transB {
		units = bc.shape[0]
	}
	if bc.size() != in*units {
		n.refuse("its B has shape %s (transB=%v), which does not take the %d inputs of %s", impDims(bc.shape), transB, in, n.dims(a))
		return nil
	}
	wd := n.weightData(bc, "B")
	var bias []float32
	if cc != nil && beta != 0 {
		cd := n.weightData(cc, "C")
		switch {
		case cd == nil:
		case cc.size() == units && (len(cc.shape) == 1 || len(cc.shape) == 2 && cc.shape[0] == 1):
			bias = make([]float32, units)
			for o := range units {
				bias[o] = float32(beta * float64(cd[o]))
			}
		case cc.size() == 1:
			bias = make([]float32, units)
			for o := range units {
				bias[o] = float32(beta * float64(cd[0]))
			}
		default:
			n.refuse("its C has shape %s; convc's Dense bias is a vector of %d", impDims(cc.shape), units)
		}
	}
	if len(n.problems) > 0 {
		return nil
	}
	return n.dense(a, units, func(i, o int) float32 {
		v := wd[i*units+o]
		if transB {
			v = wd[o*in+i]
		}
		if alpha != 1 {
			v = float32(alpha * float64(v))
		}
		return v
	}, bias)
}

// impMatMul maps MatMul with a constant right-hand side to Dense without
// a bias (an Add after it gives it one).
func impMatMul(n *impNode) []*impValue {
	a := n.act
	if n.dynIdx != 0 {
		n.refuse("the activation is its right-hand side; convc's Dense computes x·W")
		return nil
	}
	bc := n.constIn(1, "B")
	if bc == nil || len(n.problems) > 0 || !n.vector(a) {
		return nil
	}
	in := a.shape[0]
	if len(bc.shape) != 2 || bc.shape[0] != in {
		n.refuse("its B has shape %s; a Dense kernel for %s is [%d, units]", impDims(bc.shape), n.dims(a), in)
		return nil
	}
	units := bc.shape[1]
	wd := n.weightData(bc, "B")
	if len(n.problems) > 0 {
		return nil
	}
	return n.dense(a, units, func(i, o int) float32 { return wd[i*units+o] }, nil)
}

// perChannel returns a constant broadcast over an activation as one value
// per channel, or nil when it varies along another axis or would grow the
// activation.
func (n *impNode) perChannel(c *impConst, a *impAct) []float64 {
	full := append([]int{1}, a.shape...) // the batch, then ONNX's order
	ch := 1
	if a.layout == impNHWC {
		ch = 3
	}
	if len(c.shape) > len(full) {
		return nil
	}
	off := len(full) - len(c.shape)
	for k, d := range c.shape {
		axis := k + off
		if d != 1 && (axis != ch || d != full[axis]) {
			return nil
		}
	}
	nch := full[ch]
	vals := make([]float64, nch)
	for o := range nch {
		if c.size() == 1 {
			vals[o] = c.float(0)
		} else {
			vals[o] = c.float(o)
		}
	}
	return vals
}

// uniform returns a constant's single value when every element is the same
// and it does not grow the activation.
func (n *impNode) uniform(c *impConst, a *impAct) (float64, bool) {
	full := append([]int{1}, a.shape...)
	if len(c.shape) > len(full) {
		return 0, false
	}
	off := len(full) - len(c.shape)
	for k, d := range c.shape {
		if d != 1 && d != full[k+off] {
			return 0, false
		}
	}
	if c.size() == 0 {
		return 0, false
	}
	v := c.float(0)
	for k := range c.size() {
		if c.float(k) != v {
			return 0, false
		}
	}
	return v, true
}

// impVerb phrases an arithmetic operator in messages.
var impVerb = map[string]string{"Add": "adds", "Sub": "subtracts", "Mul": "multiplies by", "Div": "divides by"}

// impArithmetic maps Add, Sub, Mul and Div of the activation and a
// constant: into the bias or kernel of the layer just before, or into a
// Rescaling layer for a scalar on an image.
func impArithmetic(n *impNode) []*impValue {
	a := n.act
	op := n.GetOpType()
	c := n.ins[1-n.dynIdx].c
	first := n.dynIdx == 0 // the activation is the left operand
	if c.isInt {
		n.refuse("its constant is %s; convc computes in float32", c.dtype)
		return nil
	}
	if a.fresh && a.target >= 0 {
		if per := n.perChannel(c, a); per != nil {
			return n.foldIntoLayer(a, per, first)
		}
	}
	if len(a.shape) == 1 {
		return n.vectorAffine(a, c, first)
	}
	v, ok := n.uniform(c, a)
	if !ok {
		what, hint := "a constant of shape "+impDims(c.shape)+" that varies across the tensor", ""
		if per := n.perChannel(c, a); per != nil {
			what = "a per-channel constant " + impDims(c.shape)
			if a.target < 0 {
				hint = " (normalize the images before feeding them to the model instead)"
			}
		}
		n.refuse("%s %s; convc folds such constants only into the bias or kernel of a Conv, Gemm or MatMul right before it, and its Rescaling takes one scale and offset%s", impVerb[op], what, hint)
		return nil
	}
	if math.IsNaN(v) || math.IsInf(v, 0) || (op == "Div" && v == 0) {
		n.refuse("its constant is %v", v)
		return nil
	}
	var scale, offset float64
	switch {
	case op == "Add":
		scale, offset = 1, v
	case op == "Sub" && first:
		scale, offset = 1, -v
	case op == "Sub":
		scale, offset = -1, v
	case op == "Mul":
		scale = v
	case op == "Div" && first:
		scale = 1 / v
	default:
		n.refuse("divides a constant by the activation, which convc's Rescaling (x*scale + offset) cannot express")
		return nil
	}
	out := a.clone()
	out.target, out.fresh, out.via = -1, false, nil
	if a.rescale >= 0 {
		l := n.t.layers[a.rescale]
		l.scale, l.offset = l.scale*scale, l.offset*scale+offset
		l.nodes = append(l.nodes, n.ref())
		return impOut(out)
	}
	out.rescale = n.t.add(&impLayer{kind: "Rescaling", scale: scale, offset: offset, nodes: []string{n.ref()}})
	return impOut(out)
}

// vectorAffine keeps arithmetic with a constant on a vector, a scalar or
// one value per element, for the Gemm or MatMul after it, which folds it
// into its kernel and bias: convc's Rescaling works on images only.
func (n *impNode) vectorAffine(a *impAct, c *impConst, first bool) []*impValue {
	op := n.GetOpType()
	d := a.shape[0]
	if len(c.shape) > 2 || (len(c.shape) == 2 && c.shape[0] != 1) || (c.size() != 1 && c.size() != d) {
		n.refuse("%s a constant of shape %s on a vector %s; convc folds only a scalar or one value per element into a Gemm or MatMul", impVerb[op], impDims(c.shape), n.dims(a))
		return nil
	}
	scale, offset := make([]float64, d), make([]float64, d)
	for k := range d {
		v := c.float(0)
		if c.size() == d {
			v = c.float(k)
		}
		if math.IsNaN(v) || math.IsInf(v, 0) || (op == "Div" && v == 0) {
			n.refuse("its constant holds %v", v)
			return nil
		}
		switch {
		case op == "Add":
			scale[k], offset[k] = 1, v
		case op == "Sub" && first:
			scale[k], offset[k] = 1, -v
		case op == "Sub":
			scale[k], offset[k] = -1, v
		case op == "Mul":
			scale[k] = v
		case op == "Div" && first:
			scale[k] = 1 / v
		default:
			n.refuse("divides a constant by the activation, which no layer of convc expresses")
			return nil
		}
	}
	next := n.t.consumers[n.GetOutput()[0]]
	ok := len(next) == 1
	if ok {
		switch next[0].GetOpType() {
		case "Gemm", "MatMul", "Add", "Sub", "Mul", "Div":
		default:
			ok = false
		}
	}
	if !ok {
		n.refuse("%s a constant on a vector %s; convc's Rescaling works on images, and on vectors such arithmetic folds only into a Gemm or MatMul right after it or into the one right before it", impVerb[op], n.dims(a))
		return nil
	}
	out := a.clone()
	out.target, out.fresh, out.via, out.rescale = -1, false, nil, -1
	f := &impAffine{scale: scale, offset: offset, nodes: []string{n.ref()}}
	if p := a.affine; p != nil {
		for k := range d {
			f.scale[k], f.offset[k] = p.scale[k]*scale[k], p.offset[k]*scale[k]+offset[k]
		}
		f.nodes = append(slices.Clone(p.nodes), f.nodes...)
	}
	out.affine = f
	return impOut(out)
}

// foldIntoLayer folds a per-channel Add, Sub, Mul or Div into the Conv2D
// or Dense layer that made the activation.
func (n *impNode) foldIntoLayer(a *impAct, per []float64, first bool) []*impValue {
	l := n.t.layers[a.target]
	op := n.GetOpType()
	nout := len(per)
	if !l.useBias && (op == "Add" || op == "Sub") {
		l.useBias, l.b = true, make([]float32, nout)
	}
	scaleKernel := func(f func(o int) float64) {
		for j := range l.w {
			o := j % nout
			l.w[j] = float32(float64(l.w[j]) * f(o))
		}
		for o := range l.b {
			l.b[o] = float32(float64(l.b[o]) * f(o))
		}
	}
	switch {
	case op == "Add":
		for o := range l.b {
			l.b[o] = float32(float64(l.b[o]) + per[o])
		}
	case op == "Sub" && first:
		for o := range l.b {
			l.b[o] = float32(float64(l.b[o]) - per[o])
		}
	case op == "Sub":
		scaleKernel(func(int) float64 { return -1 })
		for o := range l.b {
			l.b[o] = float32(float64(l.b[o]) + per[o])
		}
	case op == "Mul":
		scaleKernel(func(o int) float64 { return per[o] })
	case op == "Div" && first:
		for _, v := range per {
			if v == 0 {
				n.refuse("divides by zero")
				return nil
			}
		}
		scaleKernel(func(o int) float64 { return 1 / per[o] })
	default:
		n.refuse("divides a constant by the activation, which no layer of convc expresses")
		return nil
	}
	for _, w := range l.w {
		if math.IsInf(float64(w), 0) || math.IsNaN(float64(w)) {
			n.refuse("folding it into %s makes weights beyond float32's range", strings.Join(l.nodes, " + "))
			return nil
		}
	}
	l.nodes = append(l.nodes, n.ref())
	return impOut(a.clone())
}

// impDropout maps Dropout, whose rate is an attribute before opset 12 and
// an input since.
func impDropout(n *impNode) []*impValue {
	a := n.act
	rate := n.float("ratio", 0.5)
	if c := n.constIn(1, "ratio"); c != nil {
		if c.size() != 1 {
			n.refuse("its ratio has shape %s, not a scalar", impDims(c.shape))
		} else {
			rate = c.float(0)
		}
	}
	if c := n.constIn(2, "training_mode"); c != nil && c.size() == 1 && c.float(0) != 0 {
		n.refuse("it runs in training mode (training_mode=true); export the model in eval mode")
	}
	if outs := n.GetOutput(); len(outs) > 1 && outs[1] != "" && n.t.uses[outs[1]] > 0 {
		n.refuse("its mask output is used; convc's Dropout gives only its output")
	}
	if n.dynIdx != 0 || len(n.problems) > 0 {
		return nil
	}
	if rate < 0 || rate >= 1 || float32(rate) >= 1 {
		n.refuse("its ratio %v is not in [0, 1)", rate)
		return nil
	}
	n.t.add(&impLayer{kind: "Dropout", rate: float64(float32(rate)), nodes: []string{n.ref()}})
	out := a.clone()
	out.fresh, out.rescale = false, -1
	if out.target >= 0 {
		out.via = append(out.via, impVia{n.ref(), "dropout"})
	}
	return impOut(out)
}

// impTranspose follows the Transposes between NCHW and NHWC, which only
// change how ONNX sees the data convc keeps as HWC.
func impTranspose(n *impNode) []*impValue {
	a := n.act
	perm := n.ints("perm")
	if len(n.problems) > 0 {
		return nil
	}
	r := len(a.shape) + 1
	if perm == nil {
		for i := r - 1; i >= 0; i-- {
			perm = append(perm, int64(i))
		}
	}
	// A transpose between NCHW and NHWC changes only how ONNX sees the
	// data: a bias after it (tf2onnx's BiasAdd) still folds into the layer.
	out := a.clone()
	switch {
	case slices.Equal(perm, []int64{0, 1}) && r == 2, slices.Equal(perm, []int64{0, 1, 2, 3}) && r == 4:
		return impOut(out)
	case r == 4 && slices.Equal(perm, []int64{0, 3, 1, 2}) && a.layout != impNCHW:
		n.t.decide(false)
		s := a.shape
		out.shape, out.layout = []int{s[2], s[0], s[1]}, impNCHW
		return impOut(out)
	case r == 4 && slices.Equal(perm, []int64{0, 2, 3, 1}) && a.layout != impNHWC:
		n.t.decide(true)
		s := a.shape
		out.shape, out.layout = []int{s[1], s[2], s[0]}, impNHWC
		return impOut(out)
	}
	from := map[impLayout]string{impNCHW: "NCHW", impNHWC: "NHWC", impVector: "vector", impUndecided: "4-D"}[a.layout]
	n.refuse("Transpose with perm %v of an %s tensor %s; convc follows only the transposes between NCHW and NHWC ([0, 3, 1, 2] and [0, 2, 3, 1])", perm, from, n.dims(a))
	return nil
}

// impPadOp takes a constant zero Pad of height and width, which the Conv
// or AveragePool after it takes as padding.
func impPadOp(n *impNode) []*impValue {
	a := n.act
	mode := n.str("mode", "constant")
	pads := n.ints("pads")
	if c := n.constIn(1, "pads"); c != nil {
		pads, _ = c.ints()
	}
	value := n.float("value", 0)
	if c := n.constIn(2, "constant_value"); c != nil && c.size() == 1 {
		value = c.float(0)
	}
	if n.in(3) != nil {
		n.refuse("its axes input is not supported")
	}
	if mode != "constant" {
		n.refuse("mode %q is not supported; convc pads with zeros", dsl.Printable(mode))
	}
	if value != 0 {
		n.refuse("it pads with %v; convc pads with zeros", value)
	}
	next := n.t.consumers[n.GetOutput()[0]]
	if len(next) != 1 || (next[0].GetOpType() != "Conv" && next[0].GetOpType() != "AveragePool") {
		what := "nothing"
		if len(next) > 0 {
			what = next[0].GetOpType()
		}
		n.refuse("zero padding is supported only right before a Conv or AveragePool, which take it as their padding; here it feeds %s", what)
	}
	if n.dynIdx != 0 || len(n.problems) > 0 {
		return nil
	}
	chw := n.image(a)
	if chw == nil {
		return nil
	}
	if len(pads) != 8 || pads[0] != 0 || pads[1] != 0 || pads[4] != 0 || pads[5] != 0 {
		n.refuse("pads %v pad more than height and width", pads)
		return nil
	}
	for _, p := range pads {
		if p < 0 || p > 1<<24 {
			n.refuse("pads %v are negative or too large", pads)
			return nil
		}
	}
	p := &impPad{node: n.ref(), pre: slices.Clone(chw), pads: [4]int{int(pads[2]), int(pads[6]), int(pads[3]), int(pads[7])}}
	out := &impAct{shape: []int{chw[0], chw[1] + p.pads[0] + p.pads[1], chw[2] + p.pads[2] + p.pads[3]}, layout: impNCHW, target: -1, rescale: -1, pad: p}
	return impOut(out)
}

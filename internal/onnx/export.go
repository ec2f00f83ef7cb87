package onnx

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/convc/convc/dsl"
	"github.com/convc/convc/internal/onnx/onnxpb"
	"github.com/convc/convc/runtime"
)

// ExportOpset is the ONNX operator set that Export writes: 17, the highest
// that ONNX 1.12's checker (Debian's python3-onnx) knows.
const ExportOpset = 17

// ExportIRVersion is the ONNX IR version that Export writes (ONNX 1.12's
// IR_VERSION is 8).
const ExportIRVersion = 8

// Export turns a checked model and its weights into an ONNX model. The
// graph takes the model's input in convc's layout, a float32 tensor named
// "input" of shape [batch, height, width, channels] (or [batch, units]),
// and gives "output", [batch, units] or [batch, height, width, channels],
// with the head activation (softmax or sigmoid) applied. Inside, the
// graph works in ONNX's NCHW layout and transposes back to NHWC before
// Flatten, so Dense kernels keep convc's (in, units) layout.
//
// Nodes and initializers are named after convc's layers: node conv2d_1
// is that layer's Conv, conv2d_1/relu its activation, and conv2d_1/kernel
// its kernel, transposed from convc's (kh, kw, cin, cout) to ONNX's
// (cout, cin, kh, kw). Each layer's main node carries the spec position
// and call in its doc_string.
//
// weights must hold every parameter of the model (m.Params()) with its
// shape, and nothing else, and every value must be finite; Export reports
// all the tensors that are wrong at once.
func Export(m *dsl.Model, weights []runtime.NamedTensor) (*onnxpb.ModelProto, error) {
	return expModel(m, weights, "the weights")
}

// ExportFile reads the weights of m from the safetensors file weightsPath,
// exports the model (see Export) and writes it to outPath atomically: the
// file there is either the old one or the whole new model. It creates
// outPath's folder if needed, once the export has succeeded. The model's
// metadata_props record the spec, its SHA-256, the weights file and, when
// the weights' metadata names them, the classes.
func ExportFile(m *dsl.Model, weightsPath, outPath string) error {
	ts, meta, err := runtime.ReadSafetensors(weightsPath)
	if err != nil {
		return err
	}
	mp, err := expModel(m, ts, weightsPath)
	if err != nil {
		return err
	}
	mp.MetadataProps = append(mp.MetadataProps, &onnxpb.StringStringEntryProto{
		Key: proto.String("convc.weights"), Value: proto.String(filepath.Base(weightsPath)),
	})
	if c := meta["classes"]; c != "" {
		mp.MetadataProps = append(mp.MetadataProps, &onnxpb.StringStringEntryProto{
			Key: proto.String("classes"), Value: proto.String(c),
		})
	}
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(mp)
	if err != nil {
		return fmt.Errorf("%s: cannot encode the ONNX model: %v", outPath, err)
	}
	if len(data) > math.MaxInt32 {
		// Protobuf readers refuse messages over 2 GB; ONNX's remedy,
		// weights in external data files, is not written.
		return fmt.Errorf("%s: the ONNX model of %s would be %d MB, more than protobuf's 2 GB limit", outPath, m.Name, len(data)>>20)
	}
	if err := os.MkdirAll(filepath.Dir(outPath), 0o755); err != nil {
		return err
	}
	return runtime.WriteFileAtomic(outPath, data)
}

// expLayout is the layout of the tensor that flows between layers.
type expLayout int

const (
	expFlat expLayout = iota // [batch, units]
	expNHWC                  // convc's layout, the graph's input and output
	expNCHW                  // ONNX's layout for Conv and the pools
)

// expCheckWeights matches weights against the model's parameters and
// returns them by name. Its error lists every missing, misshapen and
// unexpected tensor, as the trainer's predict does.
func expCheckWeights(m *dsl.Model, weights []runtime.NamedTensor, source string) (map[string]*runtime.NamedTensor, error) {
	if err := runtime.CheckFinite(source, weights); err != nil {
		return nil, err
	}
	byName := make(map[string]*runtime.NamedTensor, len(weights))
	for i := range weights {
		byName[weights[i].Name] = &weights[i]
	}
	var problems []string
	used := make(map[string]bool)
	for _, p := range m.Params() {
		used[p.Name] = true
		t, ok := byName[p.Name]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("missing tensor %s %s", p.Name, expShape(p.Shape)))
		case !slices.Equal(t.Shape, p.Shape):
			problems = append(problems, fmt.Sprintf("tensor %s has shape %s, the model needs %s", p.Name, expShape(t.Shape), expShape(p.Shape)))
		case len(t.Data) != p.Shape.Size():
			problems = append(problems, fmt.Sprintf("tensor %s holds %d values, its shape %s needs %d", p.Name, len(t.Data), expShape(t.Shape), p.Shape.Size()))
		}
	}
	var extra []string
	for _, t := range weights {
		if !used[t.Name] {
			extra = append(extra, fmt.Sprintf("unexpected tensor %s %s", t.Name, expShape(t.Shape)))
		}
	}
	slices.Sort(extra)
	problems = append(problems, extra...)
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s does not match the %s model:\n\t%s", source, m.Name, strings.Join(problems, "\n\t"))
	}
	return byName, nil
}

func expShape(s []int) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = fmt.Sprint(d)
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// expModel is Export with source naming the weights in errors.
func expModel(m *dsl.Model, weights []runtime.NamedTensor, source string) (*onnxpb.ModelProto, error) {
	if len(m.Layers) == 0 {
		return nil, fmt.Errorf("%s: model %s has no layers", m.File, m.Name)
	}
	byName, err := expCheckWeights(m, weights, source)
	if err != nil {
		return nil, err
	}
	g := &onnxpb.GraphProto{Name: proto.String(m.Name)}

	// Tensor names: each layer's output is named after the layer, its
	// intermediate values and constants get "<layer>/<what>". Layer names
	// are unique and have no '/', so only the graph's "input" and
	// "output" can collide with them.
	taken := map[string]bool{"input": true, "output": true}
	fresh := func(name string) string {
		n := name
		for i := 1; taken[n]; i++ {
			n = fmt.Sprintf("%s_%d", name, i)
		}
		taken[n] = true
		return n
	}
	node := func(op, name string, in []string, out string, attrs ...*onnxpb.AttributeProto) *onnxpb.NodeProto {
		n := &onnxpb.NodeProto{OpType: proto.String(op), Name: proto.String(name), Input: in, Output: []string{out}, Attribute: attrs}
		g.Node = append(g.Node, n)
		return n
	}
	initializer := func(name string, dims []int64, data []float32) string {
		name = fresh(name)
		raw := make([]byte, 4*len(data))
		for i, v := range data {
			binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
		}
		g.Initializer = append(g.Initializer, &onnxpb.TensorProto{
			Name: proto.String(name), Dims: dims, DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), RawData: raw,
		})
		return name
	}
	ints := func(name string, v ...int64) *onnxpb.AttributeProto {
		return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: v}
	}
	integer := func(name string, v int64) *onnxpb.AttributeProto {
		return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(v)}
	}

	cur := "input"
	in := m.Input()
	layout := expFlat
	if len(in) == 3 {
		layout = expNHWC
	}
	// to moves the current tensor into layout want, naming the
	// Transpose after the layer that needs it.
	to := func(want expLayout, layer string) {
		if layout == want || layout == expFlat {
			return
		}
		perm, what := []int64{0, 3, 1, 2}, "/to_nchw"
		if want == expNHWC {
			perm, what = []int64{0, 2, 3, 1}, "/to_nhwc"
		}
		out := fresh(layer + what)
		node("Transpose", out, []string{cur}, out, ints("perm", perm...))
		cur, layout = out, want
	}
	// activate applies a Conv2D's or Dense's activation to pre, the
	// output of its main node, giving the layer's output.
	activate := func(l *dsl.Layer, main *onnxpb.NodeProto) error {
		ops := map[string]string{"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "softmax": "Softmax"}
		if l.Activation == "linear" || l.Activation == "" {
			main.Output[0] = fresh(l.Name)
			cur = main.Output[0]
			return nil
		}
		op, ok := ops[l.Activation]
		if !ok {
			return fmt.Errorf("%s: %s: activation %q has no ONNX export", expPos(l.Pos), l.Name, l.Activation)
		}
		main.Output[0] = fresh(l.Name + "/preact")
		var attrs []*onnxpb.AttributeProto
		if op == "Softmax" {
			// Keras normalizes over the last axis: the units of a
			// vector, the channels of an image (axis 1 in NCHW).
			axis := int64(-1)
			if layout == expNCHW {
				axis = 1
			}
			attrs = append(attrs, integer("axis", axis))
		}
		out := fresh(l.Name)
		node(op, l.Name+"/"+l.Activation, []string{main.Output[0]}, out, attrs...)
		cur = out
		return nil
	}
	doc := func(n *onnxpb.NodeProto, l *dsl.Layer) {
		n.DocString = proto.String(fmt.Sprintf("%s: %s: %s -> %s", expPos(l.Pos), l.Source, expShape(l.In), expShape(l.Out)))
	}
	// finish names the output of last, a layer's last node, after the
	// layer; a nil last means the layer changed nothing.
	finish := func(l *dsl.Layer, last *onnxpb.NodeProto) {
		if last != nil {
			doc(last, l)
			last.Output[0] = fresh(l.Name)
			cur = last.Output[0]
		}
	}

	var errs []string
	for i := range m.Layers {
		l := &m.Layers[i]
		switch l.Kind {
		case dsl.KindInput, dsl.KindDropout, dsl.KindRandomFlip, dsl.KindRandomRotation, dsl.KindRandomZoom:
			// Identity at inference.
		case dsl.KindConv2D:
			to(expNCHW, l.Name)
			k := byName[l.Name+"/kernel"]
			kh, kw, cin, cout := k.Shape[0], k.Shape[1], k.Shape[2], k.Shape[3]
			// (kh, kw, cin, cout) to (cout, cin, kh, kw).
			w := make([]float32, len(k.Data))
			for y := range kh {
				for x := range kw {
					for ci := range cin {
						for co := range cout {
							w[((co*cin+ci)*kh+y)*kw+x] = k.Data[((y*kw+x)*cin+ci)*cout+co]
						}
					}
				}
			}
			inputs := []string{cur, initializer(l.Name+"/kernel", []int64{int64(cout), int64(cin), int64(kh), int64(kw)}, w)}
			if l.UseBias {
				b := byName[l.Name+"/bias"]
				inputs = append(inputs, initializer(l.Name+"/bias", []int64{int64(len(b.Data))}, b.Data))
			}
			n := node("Conv", l.Name, inputs, "",
				ints("kernel_shape", int64(l.Kernel[0]), int64(l.Kernel[1])),
				ints("strides", int64(l.Strides[0]), int64(l.Strides[1])),
				ints("pads", expPads(l)...),
				ints("dilations", 1, 1))
			doc(n, l)
			if err := activate(l, n); err != nil {
				errs = append(errs, err.Error())
			}
		case dsl.KindMaxPooling2D, dsl.KindAveragePooling2D:
			to(expNCHW, l.Name)
			attrs := []*onnxpb.AttributeProto{
				ints("kernel_shape", int64(l.Kernel[0]), int64(l.Kernel[1])),
				ints("strides", int64(l.Strides[0]), int64(l.Strides[1])),
				ints("pads", expPads(l)...),
			}
			op := "MaxPool"
			if l.Kind == dsl.KindAveragePooling2D {
				op = "AveragePool"
				include := int64(0)
				if l.CountIncludePad {
					include = 1
				}
				attrs = append(attrs, integer("count_include_pad", include))
			}
			out := fresh(l.Name)
			doc(node(op, l.Name, []string{cur}, out, attrs...), l)
			cur = out
		case dsl.KindFlatten:
			// convc flattens in HWC order; so does ONNX's Flatten of
			// an NHWC tensor, and the Dense kernel after it needs no
			// reordering.
			to(expNHWC, l.Name)
			out := fresh(l.Name)
			doc(node("Flatten", l.Name, []string{cur}, out, integer("axis", 1)), l)
			cur, layout = out, expFlat
		case dsl.KindDense:
			k := byName[l.Name+"/kernel"]
			inputs := []string{cur, initializer(l.Name+"/kernel", []int64{int64(k.Shape[0]), int64(k.Shape[1])}, k.Data)}
			if l.UseBias {
				b := byName[l.Name+"/bias"]
				inputs = append(inputs, initializer(l.Name+"/bias", []int64{int64(len(b.Data))}, b.Data))
			}
			n := node("Gemm", l.Name, inputs, "", integer("transA", 0), integer("transB", 0))
			doc(n, l)
			if err := activate(l, n); err != nil {
				errs = append(errs, err.Error())
			}
		case dsl.KindRescaling:
			// y = x*scale + offset in float32, as the runtime computes
			// it; a factor of 1 or a shift of 0 changes nothing.
			scale, offset := float32(l.Scale), float32(l.Offset)
			var last *onnxpb.NodeProto
			if scale != 1 {
				last = node("Mul", l.Name+"/scale", []string{cur, initializer(l.Name+"/scale", nil, []float32{scale})}, fresh(l.Name+"/scaled"))
				cur = last.Output[0]
			}
			if offset != 0 {
				last = node("Add", l.Name+"/offset", []string{cur, initializer(l.Name+"/offset", nil, []float32{offset})}, "")
			}
			finish(l, last)
		case dsl.KindPreprocessInput:
			pp, ok := runtime.PreprocessingOf(l.Mode)
			if !ok || len(l.In) != 3 || l.In[2] != 3 {
				errs = append(errs, fmt.Sprintf("%s: %s: PreprocessInput(%q) on %s has no ONNX export", expPos(l.Pos), l.Name, l.Mode, expShape(l.In)))
				continue
			}
			to(expNCHW, l.Name)
			// out[c] = (x[perm[c]]/div - mean[c]) / std[c], each step
			// rounded to float32 as the runtime rounds it.
			var last *onnxpb.NodeProto
			step := func(op, what string, b string) {
				if last != nil {
					last.Output[0] = fresh(l.Name + "/" + what + "_in")
					cur = last.Output[0]
				}
				last = node(op, l.Name+"/"+what, []string{cur, b}, "")
			}
			if pp.Perm != [3]int{0, 1, 2} {
				perm := fresh(l.Name + "/perm")
				g.Initializer = append(g.Initializer, &onnxpb.TensorProto{
					Name: proto.String(perm), Dims: []int64{3}, DataType: proto.Int32(int32(onnxpb.TensorProto_INT64)),
					Int64Data: []int64{int64(pp.Perm[0]), int64(pp.Perm[1]), int64(pp.Perm[2])},
				})
				step("Gather", "perm", perm)
				last.Attribute = append(last.Attribute, integer("axis", 1))
			}
			c3 := []int64{1, 3, 1, 1}
			if pp.Div != 1 {
				step("Div", "div", initializer(l.Name+"/div", nil, []float32{pp.Div}))
			}
			step("Sub", "mean", initializer(l.Name+"/mean", c3, pp.Mean[:]))
			if pp.Std != [3]float32{1, 1, 1} {
				step("Div", "std", initializer(l.Name+"/std", c3, pp.Std[:]))
			}
			finish(l, last)
		default:
			errs = append(errs, fmt.Sprintf("%s: %s: layer kind %s has no ONNX export", expPos(l.Pos), l.Name, l.Kind))
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	to(expNHWC, "output")
	// The last value becomes the graph's "output"; a model that is the
	// identity at inference needs a node to produce it.
	if cur == "input" {
		node("Identity", "output", []string{cur}, "output")
	} else {
		for _, n := range g.Node {
			for j, o := range n.Output {
				if o == cur {
					n.Output[j] = "output"
				}
			}
		}
	}
	g.Input = []*onnxpb.ValueInfoProto{expValueInfo("input", in)}
	g.Output = []*onnxpb.ValueInfoProto{expValueInfo("output", m.Output())}
	g.DocString = proto.String(fmt.Sprintf("convc model %s, input [batch, %s] in convc's layout (NHWC for images)", m.Name, strings.Trim(expShape(in), "()")))

	return &onnxpb.ModelProto{
		IrVersion:    proto.Int64(ExportIRVersion),
		ProducerName: proto.String("convc"),
		DocString:    proto.String(fmt.Sprintf("convc model %s from %s (sha256 %s)", m.Name, filepath.ToSlash(m.File), m.Hash)),
		OpsetImport:  []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(ExportOpset)}},
		MetadataProps: []*onnxpb.StringStringEntryProto{
			{Key: proto.String("convc.model"), Value: proto.String(m.Name)},
			{Key: proto.String("convc.spec"), Value: proto.String(filepath.ToSlash(m.File))},
			{Key: proto.String("convc.spec_sha256"), Value: proto.String(m.Hash)},
		},
		Graph: g,
	}, nil
}

// expPads returns ONNX's pads, [top, left, bottom, right], from the
// layer's zero padding (top, bottom, left, right).
func expPads(l *dsl.Layer) []int64 {
	return []int64{int64(l.Pad[0]), int64(l.Pad[2]), int64(l.Pad[1]), int64(l.Pad[3])}
}

// expValueInfo describes a float32 graph input or output of shape
// [batch, s...], with the batch size left free.
func expValueInfo(name string, s dsl.Shape) *onnxpb.ValueInfoProto {
	dims := []*onnxpb.TensorShapeProto_Dimension{{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "batch"}}}
	for _, d := range s {
		dims = append(dims, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: int64(d)}})
	}
	return &onnxpb.ValueInfoProto{
		Name: proto.String(name),
		Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{
			ElemType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)),
			Shape:    &onnxpb.TensorShapeProto{Dim: dims},
		}}},
	}
}

// expPos formats a layer's position as file:line:col.
func expPos(p dsl.Pos) string {
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

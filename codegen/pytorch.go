package codegen

import (
	"bytes"
	"embed"
	"fmt"
	"strconv"
	"strings"
	"text/template"

	"github.com/convc/convc/dsl"
	"github.com/convc/convc/runtime"
)

// This file is the PyTorch backend: model.py (an nn.Module equal to the
// spec, layer by layer, with Keras's names) and train.py (the spec's
// compile and fit, with Keras's optimizer math, under torchrun with
// DistributedDataParallel). The Python is laid out by the templates in
// pytorch/; the per-layer lines come from the table pyLayers.

//go:embed pytorch/*.tmpl
var pytorchFS embed.FS

var pytorchTemplates = template.Must(template.New("").Funcs(template.FuncMap{"py": pyString}).ParseFS(pytorchFS, "pytorch/*.tmpl"))

// PyTorchOptions configure PyTorch.
type PyTorchOptions struct {
	// SpecPath is the spec's path as it appears in the files' headers; it
	// defaults to the model's File.
	SpecPath string
}

// PyTorch returns model.py and train.py for the checked model m.
func PyTorch(m *dsl.Model, opts PyTorchOptions) ([]File, error) {
	if opts.SpecPath == "" {
		opts.SpecPath = m.File
	}
	// The path goes into comments, docstrings and messages.
	opts.SpecPath = dsl.CommentText(opts.SpecPath)
	if err := checkPythonNames(m); err != nil {
		return nil, err
	}
	v := pyModelView(m, opts.SpecPath)
	var files []File
	for _, f := range []struct{ tmpl, path string }{{"model.py.tmpl", "model.py"}, {"train.py.tmpl", "train.py"}} {
		var b bytes.Buffer
		if err := pytorchTemplates.ExecuteTemplate(&b, f.tmpl, v); err != nil {
			return nil, fmt.Errorf("generating %s for %s: %v", f.path, m.Name, err)
		}
		files = append(files, File{Path: f.path, Data: b.Bytes()})
	}
	return files, nil
}

// pyReserved holds Python's keywords and the attributes of nn.Module: a
// layer attribute with one of these names would be a syntax error or would
// be shadowed by the method (self.train, self.eval, ...).
var pyReserved = func() map[string]bool {
	m := map[string]bool{}
	for _, s := range strings.Fields(`False None True and as assert async await break class continue def del
		elif else except finally for from global if import in is lambda nonlocal not or pass raise return try
		while with yield match case
		T_destination add_module apply bfloat16 buffers call_super_init children cpu cuda double dump_patches
		eval extra_repr float forward get_buffer get_extra_state get_parameter get_submodule half ipu
		load_state_dict modules named_buffers named_children named_modules named_parameters parameters
		predict register_backward_hook register_buffer register_forward_hook register_forward_pre_hook
		register_full_backward_hook register_full_backward_pre_hook register_load_state_dict_post_hook
		register_module register_parameter register_state_dict_pre_hook requires_grad_ set_extra_state
		share_memory state_dict to to_empty train training type xpu zero_grad`) {
		m[s] = true
	}
	return m
}()

// checkPythonNames rejects layer names that cannot be attributes of the
// generated nn.Module.
func checkPythonNames(m *dsl.Model) error {
	var errs []string
	for _, l := range m.Layers {
		if l.Kind == dsl.KindInput {
			continue
		}
		if pyReserved[l.Name] || strings.HasPrefix(l.Name, "_") {
			errs = append(errs, fmt.Sprintf("%s:%d:%d: layer name %q is reserved in Python or by torch.nn.Module, so it cannot name the layer's attribute in model.py; choose another name=", l.Pos.File, l.Pos.Line, l.Pos.Col, l.Name))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return nil
}

// pyLayer is what the templates need of one layer: its comment, the lines
// of __init__ that create its attribute and the lines of forward that
// apply it (both empty for the Input).
type pyLayer struct {
	Comment       string
	Init, Forward []string
}

type pyParam struct {
	Name, Torch, Layout string
	Shape               string
	FanIn, FanOut       int
	Trainable           string
}

type pyModel struct {
	Name, File, Hash, Head, Summary string
	InputShape                      string
	OutputUnits                     int
	Image                           bool
	Layers                          []pyLayer
	Params                          []pyParam

	// InferenceOnly is true for a spec without compile(...).
	InferenceOnly bool
	// Pretrained is the Python list of the applications whose weights
	// the trainer loads (see load_pretrained in model.py).
	Pretrained string

	Loss, OptimizerDoc, OptimizerDict, DataDict, CallbacksList string
	Epochs, BatchSize                                          int
	ValidationSplit                                            string
	Seed                                                       int64
}

// pyLayerRule returns the __init__ and forward lines of a layer; head is
// true for the last layer, whose activation the loss applies.
type pyLayerRule func(l *dsl.Layer, head bool) (init, forward []string)

// pyLayers is the table of layer kinds for the PyTorch backend.
var pyLayers = map[dsl.Kind]pyLayerRule{
	dsl.KindInput: func(l *dsl.Layer, head bool) ([]string, []string) { return nil, nil },
	dsl.KindConv2D: func(l *dsl.Layer, head bool) ([]string, []string) {
		init := []string{fmt.Sprintf("self.%s = nn.Conv2d(%d, %d, (%d, %d), stride=(%d, %d), bias=%s)",
			l.Name, l.In[2], l.Filters, l.Kernel[0], l.Kernel[1], l.Strides[0], l.Strides[1], pyBool(l.UseBias))}
		init = append(init, frozen(l)...)
		call := fmt.Sprintf("self.%s(x)", l.Name)
		if l.Pad != [4]int{} {
			call = fmt.Sprintf("self.%s(pad_same(x, %s))", l.Name, pyInts(l.Pad[:]))
		}
		return init, []string{"x = " + pyActivate(l, head, call, 1)}
	},
	dsl.KindDense: func(l *dsl.Layer, head bool) ([]string, []string) {
		init := []string{fmt.Sprintf("self.%s = nn.Linear(%d, %d, bias=%s)", l.Name, l.In[0], l.Units, pyBool(l.UseBias))}
		init = append(init, frozen(l)...)
		return init, []string{"x = " + pyActivate(l, head, fmt.Sprintf("self.%s(x)", l.Name), -1)}
	},
	dsl.KindMaxPooling2D:     pyPool("MaxPooling2D"),
	dsl.KindAveragePooling2D: pyPool("AveragePooling2D"),
	dsl.KindFlatten:          pySimple(func(l *dsl.Layer) string { return "Flatten()" }),
	dsl.KindDropout: pySimple(func(l *dsl.Layer) string {
		return fmt.Sprintf("nn.Dropout(%s)", pyFloat(l.Rate))
	}),
	dsl.KindRescaling: pySimple(func(l *dsl.Layer) string {
		return fmt.Sprintf("Rescaling(%s, %s)", pyFloat(l.Scale), pyFloat(l.Offset))
	}),
	dsl.KindPreprocessInput: pySimple(func(l *dsl.Layer) string {
		pp, _ := runtime.PreprocessingOf(l.Mode)
		return fmt.Sprintf("PreprocessInput(%s, %s, %s, %s)", pyInts(pp.Perm[:]), pyFloat(float64(pp.Div)), pyFloats32(pp.Mean[:]), pyFloats32(pp.Std[:]))
	}),
	dsl.KindRandomFlip: pySimple(func(l *dsl.Layer) string {
		return fmt.Sprintf("RandomFlip(horizontal=%s, vertical=%s)", pyBool(l.FlipMode != "vertical"), pyBool(l.FlipMode != "horizontal"))
	}),
	dsl.KindRandomRotation: pySimple(func(l *dsl.Layer) string {
		return fmt.Sprintf("RandomRotation((%s, %s), %s, %s)", pyFloat(l.Factor[0]), pyFloat(l.Factor[1]), pyString(l.FillMode), pyString(l.Interpolation))
	}),
	dsl.KindRandomZoom: pySimple(func(l *dsl.Layer) string {
		// The checked model stores width_factor=None as WidthFactor ==
		// Factor; one shared draw then keeps the aspect, as in the runtime.
		width := "None"
		if l.WidthFactor != l.Factor {
			width = fmt.Sprintf("(%s, %s)", pyFloat(l.WidthFactor[0]), pyFloat(l.WidthFactor[1]))
		}
		return fmt.Sprintf("RandomZoom((%s, %s), %s, %s, %s)", pyFloat(l.Factor[0]), pyFloat(l.Factor[1]), width, pyString(l.FillMode), pyString(l.Interpolation))
	}),
}

// pySimple is the rule of a layer that is one module applied to x.
func pySimple(module func(l *dsl.Layer) string) pyLayerRule {
	return func(l *dsl.Layer, head bool) ([]string, []string) {
		return []string{fmt.Sprintf("self.%s = %s", l.Name, module(l))}, []string{fmt.Sprintf("x = self.%s(x)", l.Name)}
	}
}

func pyPool(class string) pyLayerRule {
	return pySimple(func(l *dsl.Layer) string {
		extra := ""
		if l.CountIncludePad {
			extra = ", count_include_pad=True"
		}
		return fmt.Sprintf("%s((%d, %d), (%d, %d), %s%s)", class, l.Kernel[0], l.Kernel[1], l.Strides[0], l.Strides[1], pyInts(l.Pad[:]), extra)
	})
}

// frozen returns the line that freezes a layer with trainable=False.
func frozen(l *dsl.Layer) []string {
	if l.Trainable {
		return nil
	}
	return []string{fmt.Sprintf("self.%s.requires_grad_(False)  # trainable=False", l.Name)}
}

// pyActivate wraps call in the layer's activation, unless the layer is the
// head, whose activation the loss applies.
func pyActivate(l *dsl.Layer, head bool, call string, dim int) string {
	switch {
	case head, l.Activation == "linear", l.Activation == "":
		return call
	case l.Activation == "softmax":
		return fmt.Sprintf("F.softmax(%s, dim=%d)", call, dim)
	case l.Activation == "relu":
		return fmt.Sprintf("F.relu(%s)", call)
	}
	return fmt.Sprintf("torch.%s(%s)", l.Activation, call)
}

func pyModelView(m *dsl.Model, specPath string) *pyModel {
	v := &pyModel{
		Name: m.Name, File: specPath, Hash: m.Hash,
		InputShape: pyInts(m.Input()), OutputUnits: m.Output().Size(),
		Image: len(m.Input()) == 3, Head: "linear",
		Loss: m.Loss(), InferenceOnly: !m.HasCompile,
	}
	last := &m.Layers[len(m.Layers)-1]
	if last.Kind == dsl.KindConv2D || last.Kind == dsl.KindDense {
		v.Head = last.Activation
	}
	var pre []string
	for _, p := range RuntimeSpec(m, specPath).Pretrained {
		names := make([]string, len(p.Params))
		for i, n := range p.Params {
			names[i] = pyString(n)
		}
		pre = append(pre, fmt.Sprintf("\n    (%s, %s, %s, %s, %s, [%s]),", pyString(p.Group), pyString(p.Weights), pyString(runtime.ImageNetFile(p.Arch)),
			pyString(p.Source), pyString(p.Preprocess), strings.Join(names, ", ")))
	}
	v.Pretrained = "[" + strings.Join(pre, "") + "\n]"
	if len(pre) == 0 {
		v.Pretrained = "[]"
	}
	var kinds []string
	for i := range m.Layers {
		l := &m.Layers[i]
		init, fwd := pyLayers[l.Kind](l, i == len(m.Layers)-1)
		v.Layers = append(v.Layers, pyLayer{
			Comment: fmt.Sprintf("%s: %s %s -> %s, %s:%d", l.Name, dsl.CommentSource(l.Source), pyInts(l.In), pyInts(l.Out), specPath, l.Pos.Line),
			Init:    init, Forward: fwd,
		})
		if l.Kind != dsl.KindInput {
			kinds = append(kinds, string(l.Kind))
		}
		for _, p := range l.Params {
			pp := pyParam{Name: p.Name, Shape: pyInts(p.Shape), FanIn: p.FanIn, FanOut: p.FanOut, Trainable: pyBool(p.Trainable)}
			switch {
			case strings.HasSuffix(p.Name, "/bias"):
				pp.Torch, pp.Layout = l.Name+".bias", "bias"
			case l.Kind == dsl.KindConv2D:
				pp.Torch, pp.Layout = l.Name+".weight", "hwio"
			default:
				pp.Torch, pp.Layout = l.Name+".weight", "dense"
			}
			v.Params = append(v.Params, pp)
		}
	}
	v.Summary = strings.Join(kinds, ", ")

	o := m.Compile.Optimizer
	v.OptimizerDict = fmt.Sprintf(`{"name": %s, "learning_rate": %s, "rho": %s, "momentum": %s, "epsilon": %s, "beta_1": %s, "beta_2": %s}`,
		pyString(o.Name), pyFloat(o.LearningRate), pyFloat(o.Rho), pyFloat(o.Momentum), pyFloat(o.Epsilon), pyFloat(o.Beta1), pyFloat(o.Beta2))
	switch o.Name {
	case "rmsprop":
		v.OptimizerDoc = fmt.Sprintf("RMSprop(learning_rate=%s, rho=%s, momentum=%s, epsilon=%s)", pyFloat(o.LearningRate), pyFloat(o.Rho), pyFloat(o.Momentum), pyFloat(o.Epsilon))
	case "adam":
		v.OptimizerDoc = fmt.Sprintf("Adam(learning_rate=%s, beta_1=%s, beta_2=%s, epsilon=%s)", pyFloat(o.LearningRate), pyFloat(o.Beta1), pyFloat(o.Beta2), pyFloat(o.Epsilon))
	default:
		v.OptimizerDoc = fmt.Sprintf("SGD(learning_rate=%s, momentum=%s)", pyFloat(o.LearningRate), pyFloat(o.Momentum))
	}
	d := m.Fit.Data
	kind := d.Kind
	if kind == "" {
		kind = "mnist"
	}
	v.DataDict = fmt.Sprintf(`{"kind": %s, "path": %s, "image_size": %s, "color_mode": %s}`,
		pyString(kind), pyString(d.Path), pyInts(d.ImageSize[:]), pyString(d.ColorMode))
	v.Epochs, v.BatchSize = m.Fit.Epochs, m.Fit.BatchSize
	if v.Epochs == 0 {
		v.Epochs = 1
	}
	if v.BatchSize == 0 {
		v.BatchSize = 32
	}
	v.ValidationSplit = pyFloat(m.Fit.ValidationSplit)
	v.Seed = m.Fit.Seed
	var cbs []string
	for _, c := range m.Fit.Callbacks {
		cbs = append(cbs, fmt.Sprintf(`{"kind": %s, "path": %s, "monitor": %s, "save_best_only": %s, "patience": %d}`,
			pyString(c.Kind), pyString(c.Path), pyString(c.Monitor), pyBool(c.SaveBestOnly), c.Patience))
	}
	v.CallbacksList = "[" + strings.Join(cbs, ", ") + "]"
	return v
}

// pyString quotes s as a Python string literal. strconv.Quote's escapes
// are valid Python for the printable strings a spec can hold.
func pyString(s string) string { return strconv.Quote(s) }

func pyBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

// pyFloat formats f so that Python reads it as a float with the same value.
func pyFloat(f float64) string {
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".eEn") {
		s += ".0"
	}
	return s
}

// pyFloats32 formats float32 constants as a tuple, each with the shortest
// decimal that reads back as the same float32.
func pyFloats32(s []float32) string {
	parts := make([]string, len(s))
	for i, f := range s {
		parts[i] = strconv.FormatFloat(float64(f), 'g', -1, 32)
		if !strings.ContainsAny(parts[i], ".eEn") {
			parts[i] += ".0"
		}
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// pyInts formats a tuple of ints, with the trailing comma of a 1-tuple.
func pyInts[T ~[]int](s T) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = strconv.Itoa(d)
	}
	if len(parts) == 1 {
		return "(" + parts[0] + ",)"
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

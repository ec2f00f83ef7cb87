package onnx

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/convc/convc/dsl"
	"github.com/convc/convc/internal/onnx/onnxpb"
	"github.com/convc/convc/runtime"
)

// Imported is an ONNX model translated into convc's language.
type Imported struct {
	Name    string                // the model's name in the spec
	Spec    []byte                // the .cnn text
	Weights []runtime.NamedTensor // convc's names ("conv2d/kernel") and layouts
	// InputNCHW is true when the ONNX graph's input is NCHW (the spec's input
	// is always HWC: feed it the transpose); false when the graph took NHWC
	// and began with a Transpose to NCHW, or took a vector.
	InputNCHW bool
	// OutputNCHW is true when the graph's output is a 4-D NCHW tensor (a
	// graph ending in a Conv or pool): the Go model's output is its HWC transpose.
	OutputNCHW bool

	// source is the ONNX file's base name, recorded in the weights.
	source string
	header []string
	layers []*impLayer
}

// The IR versions and default-domain operator sets that Import reads.
// IR version 3 introduced operator sets; the IR versions after 8 (ONNX
// 1.12's) add data types that float32 models do not use. The operators
// Import maps have kept their meaning through opset 22.
const (
	impMinIR    = 3
	impMaxIR    = 11
	impMinOpset = 7
	impMaxOpset = 22
)

// ImportFile reads an ONNX file and imports it with Import.
func ImportFile(path string) (*Imported, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("%s: %v", dsl.Printable(path), err)
	}
	m, err := impUnmarshal(path, data)
	if err != nil {
		return nil, err
	}
	return Import(m, path)
}

// impUnmarshal decodes an ONNX file, and says what the file looks like
// when it is not one.
func impUnmarshal(path string, data []byte) (*onnxpb.ModelProto, error) {
	name := dsl.Printable(path)
	if len(data) == 0 {
		return nil, fmt.Errorf("%s: the file is empty, not an ONNX model", name)
	}
	var m onnxpb.ModelProto
	if err := proto.Unmarshal(data, &m); err != nil {
		hint := ""
		switch {
		case bytes.HasPrefix(data, []byte("PK\x03\x04")):
			hint = " (it is a zip archive, as PyTorch's torch.save writes; export the model with torch.onnx.export)"
		case bytes.HasPrefix(data, []byte("\x89HDF")):
			hint = " (it is an HDF5 file, as Keras's .h5; convert the model with tf2onnx)"
		case len(data) > 8 && data[8] == '{':
			hint = " (it looks like a safetensors file of weights, not a model)"
		}
		return nil, fmt.Errorf("%s: not an ONNX model: it does not decode as a protocol buffer%s", name, hint)
	}
	return &m, nil
}

// Import translates an ONNX model into a convc spec and its weights. The
// graph must be a chain of the operators convc's layers express; every
// node that is not is reported at once, one line each. path names the
// model in messages and, when the graph has no useful name, gives the
// model's name.
func Import(m *onnxpb.ModelProto, path string) (*Imported, error) {
	file := dsl.Printable(path)
	if m == nil || m.GetGraph() == nil {
		return nil, fmt.Errorf("%s: not an ONNX model: it has no graph", file)
	}
	ir := m.GetIrVersion()
	if ir == 0 {
		return nil, fmt.Errorf("%s: not an ONNX model: it has no IR version", file)
	}
	if ir < impMinIR || ir > impMaxIR {
		return nil, fmt.Errorf("%s: ONNX IR version %d; convc reads IR versions %d to %d (re-export the model, or convert it with onnx.version_converter)", file, ir, impMinIR, impMaxIR)
	}
	opset := int64(-1)
	for _, o := range m.GetOpsetImport() {
		if d := o.GetDomain(); d == "" || d == "ai.onnx" {
			opset = o.GetVersion()
		}
	}
	switch {
	case opset < 0:
		return nil, fmt.Errorf("%s: the model imports no operator set of the default ONNX domain", file)
	case opset < impMinOpset || opset > impMaxOpset:
		return nil, fmt.Errorf("%s: opset %d; convc reads opsets %d to %d (convert the model with onnx.version_converter.convert_version(m, 17))", file, opset, impMinOpset, impMaxOpset)
	}
	g := m.GetGraph()
	if len(g.GetNode()) == 0 {
		return nil, fmt.Errorf("%s: the graph is empty: it has no nodes", file)
	}
	t := newImpTranslator(file, opset)
	t.translate(g)
	if len(t.errs) > 0 {
		return nil, errors.New(strings.Join(t.errs, "\n"))
	}
	im := &Imported{
		Weights:    t.weights(),
		InputNCHW:  t.imageInput && t.inputLayout != impNHWC,
		OutputNCHW: t.outputNCHW,
		source:     filepath.Base(path),
		layers:     t.layers,
	}
	im.header = impHeader(m, path, t, im)
	name := impModelName(g.GetName(), path)
	if err := im.setName(name); err != nil {
		return nil, err
	}
	return im, nil
}

// impHeader is the spec's opening comment.
func impHeader(m *onnxpb.ModelProto, path string, t *impTranslator, im *Imported) []string {
	producer := strings.TrimSpace(m.GetProducerName() + " " + m.GetProducerVersion())
	if producer == "" {
		producer = "an unnamed producer"
	}
	h := []string{
		fmt.Sprintf("Imported by convc import from %s.", filepath.Base(path)),
		fmt.Sprintf("Producer: %s; ONNX IR version %d, opset %d; graph %q.", producer, m.GetIrVersion(), t.opset, m.GetGraph().GetName()),
	}
	if im.InputNCHW && t.imageInput {
		h = append(h, "The input is HWC: feed images as height x width x channels (the ONNX graph took NCHW).")
	} else if t.imageInput {
		h = append(h, "The input is HWC: feed images as height x width x channels, as the ONNX graph did.")
	}
	if im.OutputNCHW {
		h = append(h, "The output is HWC, the transpose of the ONNX graph's NCHW output.")
	}
	for _, dt := range t.converted {
		h = append(h, fmt.Sprintf("The ONNX weights of type %s are converted to float32.", dt))
	}
	if len(t.moved) > 0 {
		h = append(h, "Activations marked \"moved\" follow a pooling, flatten or dropout node in the ONNX graph;")
		h = append(h, "they are applied before it here, which gives the same result (see each line).")
	}
	h = append(h, "This spec is for inference: add compile and fit statements to train it further.")
	for i, s := range h {
		h[i] = dsl.Printable(s)
	}
	return h
}

// Rename gives the model another name, which must be valid for the
// checker (it names the generated Go package); the spec is rewritten.
func (im *Imported) Rename(name string) error {
	return im.setName(name)
}

func (im *Imported) setName(name string) error {
	spec := impRender(name, im.header, im.layers)
	m, errs := dsl.Check(name+".cnn", spec)
	if err := errs.Err(); err != nil {
		for _, e := range errs {
			// A bad name is the user's -name; anything else is a bug of
			// the importer.
			if strings.HasPrefix(e.Msg, "model name ") {
				return fmt.Errorf("convc import: %s", e.Msg)
			}
		}
		return fmt.Errorf("convc import: internal error: the imported spec does not check:\n%v\nThe spec is:\n%s", err, spec)
	}
	if err := impMatchParams(m, im.Weights); err != nil {
		return fmt.Errorf("convc import: internal error: %v\nThe spec is:\n%s", err, spec)
	}
	im.Name, im.Spec = name, spec
	return nil
}

// impMatchParams checks that the weights are the checked model's
// parameters, in order, with their shapes.
func impMatchParams(m *dsl.Model, ws []runtime.NamedTensor) error {
	ps := m.Params()
	if len(ps) != len(ws) {
		return fmt.Errorf("the model has %d parameters and the import made %d tensors", len(ps), len(ws))
	}
	for i, p := range ps {
		w := ws[i]
		if w.Name != p.Name || !slices.Equal(w.Shape, []int(p.Shape)) {
			return fmt.Errorf("parameter %d is %s %v, the import made %s %v", i, p.Name, p.Shape, w.Name, w.Shape)
		}
	}
	return nil
}

// impExporterGraphNames are the graph names that exporters write for every
// model, which name nothing: the file's name is better.
var impExporterGraphNames = []string{"torch_jit", "torch-jit-export", "main_graph", "tf2onnx", "graph", "model", "main"}

// impModelName picks the model's name: the graph's, unless an exporter
// wrote a name it writes for every model, else the file's, sanitized into
// a valid model name.
func impModelName(graph, path string) string {
	if graph != "" && !slices.Contains(impExporterGraphNames, strings.ToLower(graph)) {
		if n := impSanitize(graph); n != "model" {
			return n
		}
	}
	base := filepath.Base(path)
	return impSanitize(strings.TrimSuffix(base, filepath.Ext(base)))
}

// impSanitize turns a name into a valid convc model name (a lowercase Go
// package name): letters, digits and underscores, not starting with a
// digit or an underscore, not a Go keyword, and without the suffixes that
// Go reads from file names (_test, _linux, _amd64). It returns "model" for
// a name with nothing usable in it.
func impSanitize(s string) string {
	var b strings.Builder
	under := false
	for _, r := range strings.ToLower(s) {
		switch {
		case 'a' <= r && r <= 'z', '0' <= r && r <= '9':
			if under && b.Len() > 0 {
				b.WriteByte('_')
			}
			under = false
			b.WriteRune(r)
		default:
			under = true
		}
	}
	name := b.String()
	if name == "" {
		return "model"
	}
	if name[0] >= '0' && name[0] <= '9' {
		name = "model_" + name
	}
	if token.IsKeyword(name) || name == "main" || name == "init" {
		return name + "_model"
	}
	// _test and a GOOS or GOARCH suffix would make Go read name.go as a
	// test or a file for one platform.
	if i := strings.LastIndexByte(name, '_'); i >= 0 && impGoSuffix(name[i+1:]) {
		name += "_model"
	}
	return name
}

func impGoSuffix(s string) bool {
	if s == "test" {
		return true
	}
	for _, w := range strings.Fields(impGoosGoarch) {
		if w == s {
			return true
		}
	}
	return false
}

// impGoosGoarch are the operating systems and architectures that Go reads
// from the end of a file name as build constraints.
const impGoosGoarch = "aix android darwin dragonfly freebsd hurd illumos ios js linux nacl netbsd openbsd plan9 solaris wasip1 windows zos " +
	"386 amd64 amd64p32 arm armbe arm64 arm64be loong64 mips mipsle mips64 mips64le mips64p32 mips64p32le ppc ppc64 ppc64le riscv riscv64 s390 s390x sparc sparc64 wasm"

// Write writes DIR/<name>.cnn and DIR/<name>.safetensors, each atomically,
// creating DIR if needed, and returns their paths. The weights' metadata
// records the spec's name and hash, as a trainer's saved weights do, and
// the ONNX file they came from.
func (im *Imported) Write(dir string) (specPath, weightsPath string, err error) {
	if dir == "" {
		dir = "."
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
	specPath = filepath.Join(dir, im.Name+".cnn")
	weightsPath = filepath.Join(dir, im.Name+".safetensors")
	sum := sha256.Sum256(im.Spec)
	meta := map[string]string{
		"format":    "convc",
		"spec":      im.Name,
		"spec_file": filepath.Base(specPath),
		"spec_hash": hex.EncodeToString(sum[:]),
		"source":    im.source,
	}
	if err := runtime.WriteSafetensors(weightsPath, im.Weights, meta); err != nil {
		return "", "", err
	}
	if err := runtime.WriteFileAtomic(specPath, im.Spec); err != nil {
		return "", "", err
	}
	return specPath, weightsPath, nil
}

// impLayer is one layer of the spec being written.
type impLayer struct {
	kind string // the layer call: Input, Conv2D, ...
	// name is the Keras default name the checker will give the layer, for
	// the weights: conv2d, dense_1.
	name  string
	nodes []string // the ONNX nodes it came from
	notes []string // remarks for its comment

	shape []int // Input: (height, width, channels) or (units)

	filters, units int
	kernel         [2]int
	strides        [2]int
	// padding is "valid", "same" or "explicit", with pads (top, bottom,
	// left, right).
	padding         string
	pads            [4]int
	countIncludePad bool
	activation      string // "" for none
	useBias         bool
	// w is the kernel in convc's layout, of shape wShape; b the bias.
	w      []float32
	wShape []int
	b      []float32

	rate          float64
	scale, offset float64
}

// call formats the layer as the spec writes it.
func (l *impLayer) call() string {
	pair := func(p [2]int) string { return fmt.Sprintf("(%d, %d)", p[0], p[1]) }
	var args []string
	add := func(format string, a ...any) { args = append(args, fmt.Sprintf(format, a...)) }
	padding := func() {
		switch l.padding {
		case "explicit":
			add("padding=((%d, %d), (%d, %d))", l.pads[0], l.pads[1], l.pads[2], l.pads[3])
		default:
			add("padding=%q", l.padding)
		}
	}
	switch l.kind {
	case "Input":
		dims := make([]string, len(l.shape))
		for i, d := range l.shape {
			dims[i] = strconv.Itoa(d)
		}
		s := strings.Join(dims, ", ")
		if len(dims) == 1 {
			s += ","
		}
		add("shape=(%s)", s)
	case "Conv2D":
		add("%d", l.filters)
		add("%s", pair(l.kernel))
		add("strides=%s", pair(l.strides))
		padding()
	case "MaxPooling2D", "AveragePooling2D":
		add("pool_size=%s", pair(l.kernel))
		add("strides=%s", pair(l.strides))
		padding()
		if l.countIncludePad {
			add("count_include_pad=True")
		}
	case "Dense":
		add("%d", l.units)
	case "Dropout":
		add("%s", impFloat(l.rate))
	case "Rescaling":
		add("scale=%s", impFloat(l.scale))
		if l.offset != 0 {
			add("offset=%s", impFloat(l.offset))
		}
	}
	if l.kind == "Conv2D" || l.kind == "Dense" {
		if l.activation != "" {
			add("activation=%q", l.activation)
		}
		if !l.useBias {
			add("use_bias=False")
		}
	}
	return l.kind + "(" + strings.Join(args, ", ") + ")"
}

// impFloat formats a number for the spec: as short as it can be while
// reading back as the same float32 when it is one, else as float64.
func impFloat(v float64) string {
	if float64(float32(v)) == v {
		return strconv.FormatFloat(v, 'g', -1, 32)
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// impRender writes the spec: the header, then one layer a line with the
// ONNX nodes it came from.
func impRender(name string, header []string, layers []*impLayer) []byte {
	var b bytes.Buffer
	for _, h := range header {
		b.WriteString("# " + h + "\n")
	}
	fmt.Fprintf(&b, "model %s {\n", name)
	calls := make([]string, len(layers))
	width := 0
	for i, l := range layers {
		calls[i] = l.call()
		width = max(width, len(calls[i]))
	}
	for i, l := range layers {
		comment := strings.Join(l.nodes, " + ")
		if len(l.notes) > 0 {
			comment += " (" + strings.Join(l.notes, "; ") + ")"
		}
		comment = strings.ReplaceAll(dsl.Printable(comment), "\n", " ")
		if comment == "" {
			fmt.Fprintf(&b, "    %s\n", calls[i])
			continue
		}
		fmt.Fprintf(&b, "    %-*s  # %s\n", width, calls[i], comment)
	}
	b.WriteString("}\n")
	return b.Bytes()
}

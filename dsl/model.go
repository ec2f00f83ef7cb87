package dsl

import "math"

// This file holds the checked model: the contract between the checker and
// every backend. It has no participle types in it, so codegen and the CLI
// can use it without knowing how a spec was parsed.

// Pos is a position in a spec file. Line and Col start at 1.
type Pos struct {
	File string
	Line int
	Col  int
}

// Shape is a tensor shape without the batch dimension: (height, width,
// channels) for images and (units) for vectors.
type Shape []int

// Size returns the number of elements of one sample of the shape.
func (s Shape) Size() int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// Kind is a layer type, spelled as in Keras.
type Kind string

// The layer kinds convc knows.
const (
	KindInput            Kind = "InputLayer"
	KindConv2D           Kind = "Conv2D"
	KindMaxPooling2D     Kind = "MaxPooling2D"
	KindAveragePooling2D Kind = "AveragePooling2D"
	KindFlatten          Kind = "Flatten"
	KindDense            Kind = "Dense"
	KindDropout          Kind = "Dropout"
	KindRescaling        Kind = "Rescaling"
	KindRandomFlip       Kind = "RandomFlip"
	KindRandomRotation   Kind = "RandomRotation"
	KindRandomZoom       Kind = "RandomZoom"
	KindPreprocessInput  Kind = "PreprocessInput"
)

// Param is one parameter tensor of a layer, named as Keras names its
// weights ("conv2d/kernel", "dense/bias").
type Param struct {
	Name      string
	Shape     Shape
	Trainable bool
	// Init is "glorot_uniform" or "zeros".
	Init string
	// FanIn and FanOut are what glorot_uniform uses: kh*kw*cin and
	// kh*kw*cout for a Conv2D kernel, in and units for a Dense kernel.
	FanIn, FanOut int
}

// Count returns the number of scalars in the parameter.
func (p Param) Count() int { return p.Shape.Size() }

// Layer is one checked layer with every argument resolved to its Keras
// default. Fields that do not apply to a layer's kind are zero.
type Layer struct {
	Kind Kind
	// Name is the Keras name: conv2d, conv2d_1, ..., or the name= argument.
	Name string
	Pos  Pos
	// Source is the layer's call as written in the spec, on one line, with
	// whitespace collapsed, for comments in generated code.
	Source string

	In, Out Shape

	Filters int // Conv2D
	Units   int // Dense

	// Kernel is (kh, kw) for Conv2D and the pool size for pooling layers.
	Kernel [2]int
	// Strides is (sh, sw) for Conv2D and pooling layers.
	Strides [2]int
	// Padding is "valid", "same" or "explicit" (padding=n, (h, w) or
	// ((top, bottom), (left, right)) in the spec).
	Padding string
	// Pad holds the zero padding (top, bottom, left, right): what "same"
	// needs, with the extra pixel at the bottom and right as in
	// TensorFlow, or the explicit padding as written. It is all zeros for
	// "valid". Pooling layers leave padded cells out of their windows.
	Pad [4]int
	// CountIncludePad is AveragePooling2D's count_include_pad: when true,
	// each window's sum is divided by the whole window, padding included,
	// instead of by its cells inside the input.
	CountIncludePad bool

	// Activation is "linear", "relu", "sigmoid", "softmax" or "tanh" for
	// Conv2D and Dense ("linear" when the spec says None).
	Activation string
	UseBias    bool
	Trainable  bool

	// Mode is PreprocessInput's: "caffe", "torch" or "tf".
	Mode string

	Rate   float64 // Dropout
	Scale  float64 // Rescaling
	Offset float64 // Rescaling

	// FlipMode is "horizontal", "vertical" or "horizontal_and_vertical".
	FlipMode string
	// Factor is the (lower, upper) range of RandomRotation as fractions of
	// 2*pi, and the height range of RandomZoom as fractions of the height.
	Factor [2]float64
	// WidthFactor is RandomZoom's width range; it equals Factor when the
	// spec leaves width_factor as None.
	WidthFactor [2]float64
	// FillMode and Interpolation are those of RandomRotation and
	// RandomZoom ("reflect" and "bilinear" by default).
	FillMode      string
	Interpolation string

	// Implicit marks the Input that a first layer's input_shape= made, as
	// Keras's Sequential does; the summary does not list it, as Keras's
	// does not.
	Implicit bool

	// Group is the name of the application (VGG16) that the layer belongs
	// to, or "" for a layer of the spec's own.
	Group string

	Params []Param
	// MACs is the number of multiply-accumulates per sample in the forward
	// pass.
	MACs int64
}

// ParamCount returns the number of scalars in the layer's parameters.
func (l *Layer) ParamCount() int {
	n := 0
	for _, p := range l.Params {
		n += p.Count()
	}
	return n
}

// Optimizer is a resolved optimizer with Keras's defaults filled in.
type Optimizer struct {
	// Name is "rmsprop", "adam" or "sgd".
	Name         string
	LearningRate float64
	Rho          float64 // RMSprop
	Momentum     float64 // RMSprop, SGD
	Epsilon      float64 // RMSprop, Adam
	Beta1, Beta2 float64 // Adam
}

// Compile is the resolved compile(...) statement.
type Compile struct {
	Pos       Pos
	Optimizer Optimizer
	// Loss is "sparse_categorical_crossentropy",
	// "categorical_crossentropy" or "binary_crossentropy".
	Loss    string
	Metrics []string
}

// Data is the data source of fit.
type Data struct {
	// Kind is "mnist" or "image_directory".
	Kind      string
	Path      string
	ImageSize [2]int
	ColorMode string
}

// Callback is a resolved fit callback.
type Callback struct {
	// Kind is "ModelCheckpoint" or "EarlyStopping".
	Kind         string
	Pos          Pos
	Path         string
	Monitor      string
	SaveBestOnly bool
	Patience     int
}

// Fit is the resolved fit(...) statement.
type Fit struct {
	Pos             Pos
	Data            Data
	Epochs          int
	BatchSize       int
	ValidationSplit float64
	Callbacks       []Callback
	// Seed is the seed= argument; HasSeed is false when it is None.
	Seed    int64
	HasSeed bool
}

// Model is a checked spec: one model with its compile and fit settings.
type Model struct {
	Name string
	// File is the spec's path as given to the checker.
	File string
	// Hash is the hex SHA-256 of the spec's bytes.
	Hash   string
	Layers []Layer
	// HasCompile and HasFit tell whether the spec had those statements;
	// when it did not, Compile and Fit hold Keras's defaults.
	HasCompile bool
	Compile    Compile
	HasFit     bool
	Fit        Fit
	// Pretrained lists the applications whose weights come from a file.
	Pretrained []Pretrained
}

// Loss returns the model's loss: compile's, or for a spec without
// compile(...) (an inference-only model), the one evaluate uses to score
// it, binary_crossentropy for a single sigmoid unit and
// sparse_categorical_crossentropy otherwise.
func (m *Model) Loss() string {
	if m.HasCompile {
		return m.Compile.Loss
	}
	last := &m.Layers[len(m.Layers)-1]
	if last.Activation == "sigmoid" && m.Output().Size() == 1 {
		return "binary_crossentropy"
	}
	return "sparse_categorical_crossentropy"
}

// ParamCount returns the number of scalars in the model's parameters.
func (m *Model) ParamCount() int {
	n := 0
	for i := range m.Layers {
		n = satAdd(n, m.Layers[i].ParamCount())
	}
	return n
}

// ActivationCount returns the number of floats of one sample's
// activations, the outputs of every layer: what a worker holds in
// inference, and about half of what it holds in training.
func (m *Model) ActivationCount() int {
	n := 0
	for i := range m.Layers {
		n = satAdd(n, m.Layers[i].Out.Size())
	}
	return n
}

func satAdd(a, b int) int {
	if a > math.MaxInt-b {
		return math.MaxInt
	}
	return a + b
}

// Input returns the model's input shape.
func (m *Model) Input() Shape { return m.Layers[0].Out }

// Output returns the model's output shape.
func (m *Model) Output() Shape { return m.Layers[len(m.Layers)-1].Out }

// Params returns every parameter of the model in layer order, kernel
// before bias.
func (m *Model) Params() []Param {
	var ps []Param
	for _, l := range m.Layers {
		ps = append(ps, l.Params...)
	}
	return ps
}

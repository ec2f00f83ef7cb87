package runtime

// This file is the contract between generated packages and the runtime.
// A generated package describes its network with a Spec literal and
// implements Net with kernels specialized to that network. The runtime's
// reference interpreter (Reference) implements the same interfaces from the
// Spec alone, with naive loops, so every generated kernel has a slow,
// obviously correct twin to be tested against.

// Layer describes one layer of a network, with every argument resolved.
// Fields that do not apply to the layer's Kind are zero.
type Layer struct {
	// Kind is the Keras class name: "InputLayer", "Conv2D",
	// "MaxPooling2D", "AveragePooling2D", "Flatten", "Dense", "Dropout",
	// "Rescaling", "RandomFlip", "RandomRotation" or "RandomZoom".
	Kind string
	Name string
	// In and Out are the per-sample shapes: (h, w, c) or (n).
	In, Out []int

	Filters int // Conv2D
	Units   int // Dense
	// KH, KW are the kernel or pool size, SH, SW the strides.
	KH, KW, SH, SW int
	// PadTop and PadLeft are the zero rows and columns before the input
	// ("same" or explicit padding); the bottom and right padding follow
	// from the shapes.
	PadTop, PadLeft int
	// CountIncludePad makes AveragePooling2D divide by the whole window,
	// padding included, instead of by its cells inside the input.
	CountIncludePad bool

	// Activation is "linear", "relu", "sigmoid", "softmax" or "tanh".
	Activation string
	UseBias    bool
	Trainable  bool

	// Mode is PreprocessInput's: "caffe", "torch" or "tf" (see
	// Preprocessing).
	Mode string

	Rate          float32 // Dropout
	Scale, Offset float32 // Rescaling
	// FlipH and FlipV say which flips RandomFlip may apply.
	FlipH, FlipV bool
	// Factor is RandomRotation's (lower, upper) range in fractions of
	// 2*pi, and RandomZoom's height range; WidthFactor is RandomZoom's width
	// range.
	Factor, WidthFactor [2]float32
	FillMode            string
	Interpolation       string

	// WinogradTiles is the number of 2x2 output tiles of a Conv2D whose
	// passes the SIMD build computes with Winograd's F(2x2, 3x3), 16
	// multiply-adds per tile and channel pair instead of 36, or 0 when
	// it convolves directly. Only benchmarks read it, to count the
	// arithmetic done.
	WinogradTiles int
}

// ParamSpec describes one parameter tensor.
type ParamSpec struct {
	// Name is "<layer>/kernel" or "<layer>/bias".
	Name      string
	Shape     []int
	Trainable bool
	// Init is "glorot_uniform" or "zeros"; FanIn and FanOut feed
	// glorot_uniform.
	Init          string
	FanIn, FanOut int
}

// Optimizer holds an optimizer's name ("rmsprop", "adam", "sgd") and its
// hyperparameters with Keras's defaults resolved.
type Optimizer struct {
	Name         string
	LearningRate float32
	Rho          float32
	Momentum     float32
	Epsilon      float32
	Beta1, Beta2 float32
}

// Callback is a fit callback: "ModelCheckpoint" or "EarlyStopping".
type Callback struct {
	Kind         string
	Path         string
	Monitor      string
	SaveBestOnly bool
	Patience     int
}

// Spec is everything the runtime needs to know about a network and its
// training settings.
type Spec struct {
	Name string
	// File is the spec's path and Hash the hex SHA-256 of its bytes.
	File, Hash string
	Layers     []Layer
	Params     []ParamSpec

	// Loss is "sparse_categorical_crossentropy",
	// "categorical_crossentropy" or "binary_crossentropy".
	Loss      string
	Optimizer Optimizer

	// Data is "mnist" or "image_directory"; DataPath, ImageSize and
	// ColorMode configure image_directory.
	Data      string
	DataPath  string
	ImageSize [2]int
	ColorMode string

	Epochs          int
	BatchSize       int
	ValidationSplit float32
	Seed            int64
	Callbacks       []Callback

	// Summary is the Keras summary() table, as convc summary prints it.
	Summary string
	// InferenceOnly is true for a spec without compile(...): Loss is then
	// the one evaluate scores with, and train refuses to run.
	InferenceOnly bool
	// Pretrained lists the applications (VGG16) whose weights the trainer
	// loads before training.
	Pretrained []Pretrained
}

// InputSize returns the number of floats in one input sample.
func (s *Spec) InputSize() int { return prod(s.Layers[0].Out) }

// OutputSize returns the number of floats in one output sample.
func (s *Spec) OutputSize() int { return prod(s.Layers[len(s.Layers)-1].Out) }

// HeadActivation returns the activation of the last layer when that layer
// is a Dense or Conv2D, and "linear" otherwise. Workers stop before it:
// the runtime applies it together with the loss, so that softmax with
// cross-entropy and sigmoid with binary cross-entropy are computed in their
// fused, stable forms.
func (s *Spec) HeadActivation() string {
	l := s.Layers[len(s.Layers)-1]
	if (l.Kind == "Dense" || l.Kind == "Conv2D") && l.Activation != "" {
		return l.Activation
	}
	return "linear"
}

// ActivateHead applies the head activation to the network's output z (the
// Forward pass leaves it to the loss), as predict reports it: softmax over
// the channels of each position when the output is an image, as Keras's
// softmax on the last axis does, and over the whole vector otherwise.
func (s *Spec) ActivateHead(z, out []float32) {
	act := s.HeadActivation()
	if o := s.Layers[len(s.Layers)-1].Out; act == "softmax" && len(o) == 3 {
		c := o[2]
		for i := 0; i+c <= len(z); i += c {
			Activate(act, z[i:i+c], out[i:i+c])
		}
		return
	}
	Activate(act, z, out)
}

func prod(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// Net is a network with its parameters. Generated packages implement it.
type Net interface {
	// Spec describes the network.
	Spec() *Spec
	// Params returns the parameter tensors in the order of Spec().Params,
	// as flat slices in Keras layout (HWIO for Conv2D kernels, (in, units)
	// for Dense kernels). The runtime updates them in place.
	Params() [][]float32
	// NewWorker returns a worker with its own activation arena. Workers
	// read the parameters but never write them.
	NewWorker() Worker
}

// Worker runs one sample at a time through a network. A worker is not safe
// for concurrent use; use one worker per goroutine.
type Worker interface {
	// Forward runs one sample (InputSize floats) and returns the output
	// before the head activation (OutputSize floats). The slice belongs to
	// the worker and is valid until the next call. With training set,
	// Dropout and the Random* layers are active and draw from a generator
	// seeded with seed; otherwise they are the identity.
	Forward(x []float32, training bool, seed uint64) []float32
	// Backward takes the gradient of the loss with respect to the slice the
	// last Forward returned (that Forward must have had training set) and adds the gradient of each trainable
	// parameter into grads[i] (indexed like Params). grads[i] is nil for
	// parameters that are not trainable. Backward may overwrite dOut.
	Backward(dOut []float32, grads [][]float32)
}

// DeferringWorker is a Worker that can hold back the weight gradients of
// some layers over the consecutive samples of a shard and compute them
// together at its end, while the gradients stay in cache. The sums are
// taken in the same order as with Backward per sample, so the result is
// bit-identical. Generated workers implement it.
type DeferringWorker interface {
	Worker
	// BackwardDefer is Backward, except that it may store what some weight
	// gradients need instead of adding them into grads. A call with flush
	// set adds everything stored into its grads; calls in between must pass
	// the same grads.
	BackwardDefer(dOut []float32, grads [][]float32, flush bool)
}

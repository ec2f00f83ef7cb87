package dsl

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func mustCheckFile(t *testing.T, path string) *Model {
	t.Helper()
	m, errs := CheckFile(path)
	if len(errs) > 0 {
		t.Fatalf("%s: %v", path, errs)
	}
	return m
}

// TestSpecs checks the parameter totals of the chapter's models.
func TestSpecs(t *testing.T) {
	for _, tc := range []struct {
		file   string
		params int
	}{
		{"mnist.cnn", 104202},
		{"mnist_no_pool.cnn", 712202},
		{"cats_vs_dogs.cnn", 991041},
		{"cats_vs_dogs_augmented.cnn", 991041},
	} {
		m := mustCheckFile(t, filepath.Join("..", "specs", tc.file))
		n := 0
		for _, p := range m.Params() {
			n += p.Count()
		}
		if n != tc.params {
			t.Errorf("%s: %d params, want %d", tc.file, n, tc.params)
		}
	}
}

// TestVGG16Specs checks section 8.3's models against the book's totals:
// 17,992,001 parameters, of which 3,277,313 train with the base frozen
// (listing 8.24) and 10,356,737 with block5 trainable (listing 8.26).
func TestVGG16Specs(t *testing.T) {
	for _, tc := range []struct {
		file              string
		params, trainable int
	}{
		{"feature_extraction.cnn", 17992001, 3277313},
		{"feature_extraction_with_data_augmentation.cnn", 17992001, 3277313},
		{"fine_tuning.cnn", 17992001, 10356737},
	} {
		m := mustCheckFile(t, filepath.Join("..", "specs", "vgg16", tc.file))
		n, tr := 0, 0
		for _, p := range m.Params() {
			n += p.Count()
			if p.Trainable {
				tr += p.Count()
			}
		}
		if n != tc.params || tr != tc.trainable {
			t.Errorf("%s: %d params, %d trainable; want %d and %d", tc.file, n, tr, tc.params, tc.trainable)
		}
		if len(m.Pretrained) != 1 || m.Pretrained[0].Weights != "imagenet" || m.Output()[0] != 1 {
			t.Errorf("%s: pretrained %+v, output %v", tc.file, m.Pretrained, m.Output())
		}
	}
}

// TestSummaryMatchesBook compares the summaries with the book's tables
// byte for byte, apart from the model name line. The tables are copied
// from ../shared/book/chapter8.md into testdata/book.
func TestSummaryMatchesBook(t *testing.T) {
	for _, tc := range []struct{ spec, book string }{
		{"mnist.cnn", "listing8-2.txt"},
		{"mnist_no_pool.cnn", "after8-5.txt"},
	} {
		m := mustCheckFile(t, filepath.Join("..", "specs", tc.spec))
		want, err := os.ReadFile(filepath.Join("testdata", "book", tc.book))
		if err != nil {
			t.Fatal(err)
		}
		got := Summary(m, false)
		_, gotBody, _ := strings.Cut(got, "\n")
		_, wantBody, _ := strings.Cut(string(want), "\n")
		if gotBody != wantBody {
			t.Errorf("%s: summary differs from the book's %s\ngot:\n%s\nwant:\n%s", tc.spec, tc.book, got, want)
		}
		if line := fmt.Sprintf("Model: %q\n", m.Name); !strings.HasPrefix(got, line) {
			t.Errorf("%s: summary starts %q, want %q", tc.spec, got[:20], line)
		}
	}
}

// TestMNISTModel checks every field of the checked MNIST model.
func TestMNISTModel(t *testing.T) {
	m := mustCheckFile(t, "../specs/mnist.cnn")
	src, _ := os.ReadFile("../specs/mnist.cnn")
	if m.Name != "mnist" || m.File != "../specs/mnist.cnn" || len(m.Hash) != 64 {
		t.Errorf("Name, File, Hash = %q, %q, %q", m.Name, m.File, m.Hash)
	}
	if m2, _ := Check("other.cnn", src); m2.Hash != m.Hash {
		t.Errorf("the hash depends on more than the bytes")
	}
	pos := func(line, col int) Pos { return Pos{File: "../specs/mnist.cnn", Line: line, Col: col} }
	kernel := func(name string, shape Shape, fanIn, fanOut int) Param {
		return Param{Name: name + "/kernel", Shape: shape, Trainable: true, Init: "glorot_uniform", FanIn: fanIn, FanOut: fanOut}
	}
	bias := func(name string, n int) Param {
		return Param{Name: name + "/bias", Shape: Shape{n}, Trainable: true, Init: "zeros"}
	}
	want := []Layer{
		{Kind: KindInput, Name: "input_1", Pos: pos(3, 5), Source: "Input(shape=(28, 28, 1))",
			Out: Shape{28, 28, 1}, Trainable: true},
		{Kind: KindConv2D, Name: "conv2d", Pos: pos(4, 5), Source: `Conv2D(filters=32, kernel_size=3, activation="relu")`,
			In: Shape{28, 28, 1}, Out: Shape{26, 26, 32}, Filters: 32, Kernel: [2]int{3, 3}, Strides: [2]int{1, 1},
			Padding: "valid", Activation: "relu", UseBias: true, Trainable: true,
			Params: []Param{kernel("conv2d", Shape{3, 3, 1, 32}, 9, 288), bias("conv2d", 32)}, MACs: 26 * 26 * 32 * 9},
		{Kind: KindMaxPooling2D, Name: "max_pooling2d", Pos: pos(5, 5), Source: "MaxPooling2D(pool_size=2)",
			In: Shape{26, 26, 32}, Out: Shape{13, 13, 32}, Kernel: [2]int{2, 2}, Strides: [2]int{2, 2}, Padding: "valid", Trainable: true},
		{Kind: KindConv2D, Name: "conv2d_1", Pos: pos(6, 5), Source: `Conv2D(64, 3, activation="relu")`,
			In: Shape{13, 13, 32}, Out: Shape{11, 11, 64}, Filters: 64, Kernel: [2]int{3, 3}, Strides: [2]int{1, 1},
			Padding: "valid", Activation: "relu", UseBias: true, Trainable: true,
			Params: []Param{kernel("conv2d_1", Shape{3, 3, 32, 64}, 288, 576), bias("conv2d_1", 64)}, MACs: 11 * 11 * 64 * 288},
		{Kind: KindMaxPooling2D, Name: "max_pooling2d_1", Pos: pos(7, 5), Source: "MaxPooling2D(2)",
			In: Shape{11, 11, 64}, Out: Shape{5, 5, 64}, Kernel: [2]int{2, 2}, Strides: [2]int{2, 2}, Padding: "valid", Trainable: true},
		{Kind: KindConv2D, Name: "conv2d_2", Pos: pos(8, 5), Source: `Conv2D(filters=128, kernel_size=(3, 3), activation="relu")`,
			In: Shape{5, 5, 64}, Out: Shape{3, 3, 128}, Filters: 128, Kernel: [2]int{3, 3}, Strides: [2]int{1, 1},
			Padding: "valid", Activation: "relu", UseBias: true, Trainable: true,
			Params: []Param{kernel("conv2d_2", Shape{3, 3, 64, 128}, 576, 1152), bias("conv2d_2", 128)}, MACs: 3 * 3 * 128 * 576},
		{Kind: KindFlatten, Name: "flatten", Pos: pos(9, 5), Source: "Flatten()",
			In: Shape{3, 3, 128}, Out: Shape{1152}, Trainable: true},
		{Kind: KindDense, Name: "dense", Pos: pos(10, 5), Source: `Dense(10, activation="softmax")`,
			In: Shape{1152}, Out: Shape{10}, Units: 10, Activation: "softmax", UseBias: true, Trainable: true,
			Params: []Param{kernel("dense", Shape{1152, 10}, 1152, 10), bias("dense", 10)}, MACs: 11520},
	}
	if len(m.Layers) != len(want) {
		t.Fatalf("%d layers, want %d", len(m.Layers), len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(m.Layers[i], want[i]) {
			t.Errorf("layer %d:\ngot  %+v\nwant %+v", i, m.Layers[i], want[i])
		}
	}
	wantCompile := Compile{Pos: pos(13, 1), Optimizer: Optimizer{Name: "rmsprop", LearningRate: 0.001, Rho: 0.9, Epsilon: 1e-7},
		Loss: "sparse_categorical_crossentropy", Metrics: []string{"accuracy"}}
	if !m.HasCompile || !reflect.DeepEqual(m.Compile, wantCompile) {
		t.Errorf("compile = %v %+v, want %+v", m.HasCompile, m.Compile, wantCompile)
	}
	wantFit := Fit{Pos: pos(14, 1), Data: Data{Kind: "mnist", ImageSize: [2]int{28, 28}, ColorMode: "grayscale"}, Epochs: 5, BatchSize: 64}
	if !m.HasFit || !reflect.DeepEqual(m.Fit, wantFit) {
		t.Errorf("fit = %v %+v, want %+v", m.HasFit, m.Fit, wantFit)
	}
	if got := m.Input(); !reflect.DeepEqual(got, Shape{28, 28, 1}) {
		t.Errorf("Input() = %v", got)
	}
	if got := m.Output(); !reflect.DeepEqual(got, Shape{10}) {
		t.Errorf("Output() = %v", got)
	}
}

func checkString(t *testing.T, src string) *Model {
	t.Helper()
	m, errs := Check("t.cnn", []byte(src))
	if len(errs) > 0 {
		t.Fatalf("%v", errs)
	}
	return m
}

// TestSamePadding checks TensorFlow's "same" padding on odd and even
// inputs, with the extra pixel at the bottom and right.
func TestSamePadding(t *testing.T) {
	for _, tc := range []struct {
		in, k, s int
		out      int
		pad      [2]int // before, after
	}{
		{28, 3, 2, 14, [2]int{0, 1}}, // even: P = 13*2+3-28 = 1
		{27, 3, 2, 14, [2]int{1, 1}}, // odd: P = 13*2+3-27 = 2
		{7, 3, 1, 7, [2]int{1, 1}},
		{8, 4, 1, 8, [2]int{1, 2}},
		{5, 2, 2, 3, [2]int{0, 1}},
		{4, 2, 2, 2, [2]int{0, 0}},
		{3, 5, 1, 3, [2]int{2, 2}}, // kernel larger than the input
	} {
		src := fmt.Sprintf("model p {\n Input(shape=(%d, %d, 1))\n Conv2D(1, (%d, 1), strides=(%d, 1), padding=\"same\")\n MaxPooling2D((%d, 1), strides=(%d, 1), padding=\"same\")\n}\n",
			tc.in, tc.in, tc.k, tc.s, tc.k, tc.s)
		m := checkString(t, src)
		for _, l := range m.Layers[1:] {
			wantOut := tc.out
			in := l.In[0]
			if l.Kind == KindMaxPooling2D {
				wantOut = (in + tc.s - 1) / tc.s
			}
			if l.Out[0] != wantOut || l.Out[1] != l.In[1] {
				t.Errorf("%s in %d k %d s %d: out %v, want %d", l.Kind, in, tc.k, tc.s, l.Out, wantOut)
			}
			if l.Kind == KindConv2D && (l.Pad != [4]int{tc.pad[0], tc.pad[1], 0, 0}) {
				t.Errorf("in %d k %d s %d: pad %v, want %v", tc.in, tc.k, tc.s, l.Pad, tc.pad)
			}
		}
	}
}

func TestDefaults(t *testing.T) {
	m := checkString(t, `model d {
    Input(shape=(8, 8, 3))
    RandomFlip()
    RandomRotation((-0.2, 0.3), fill_mode="nearest")
    RandomZoom(0.2, (0.1, 0.4))
    Rescaling(scale=2, offset=-1)
    MaxPooling2D()
    AveragePooling2D(strides=1, padding="same")
    Conv2D(4, 1, activation=None, use_bias=False, trainable=False)
    Flatten()
    Dropout(0)
    Dense(3)
}
`)
	if m.HasCompile || m.HasFit {
		t.Errorf("HasCompile, HasFit = %v, %v", m.HasCompile, m.HasFit)
	}
	if want := (Compile{Optimizer: Optimizer{Name: "rmsprop", LearningRate: 0.001, Rho: 0.9, Epsilon: 1e-7}}); !reflect.DeepEqual(m.Compile, want) {
		t.Errorf("Compile = %+v", m.Compile)
	}
	if want := (Fit{Epochs: 1, BatchSize: 32}); !reflect.DeepEqual(m.Fit, want) {
		t.Errorf("Fit = %+v", m.Fit)
	}
	l := m.Layers
	if l[1].FlipMode != "horizontal_and_vertical" {
		t.Errorf("RandomFlip mode %q", l[1].FlipMode)
	}
	if l[2].Factor != [2]float64{-0.2, 0.3} || l[2].FillMode != "nearest" || l[2].Interpolation != "bilinear" {
		t.Errorf("RandomRotation %v %q %q", l[2].Factor, l[2].FillMode, l[2].Interpolation)
	}
	if l[3].Factor != [2]float64{-0.2, 0.2} || l[3].WidthFactor != [2]float64{0.1, 0.4} || l[3].FillMode != "reflect" {
		t.Errorf("RandomZoom %v %v %q", l[3].Factor, l[3].WidthFactor, l[3].FillMode)
	}
	if l[4].Scale != 2 || l[4].Offset != -1 {
		t.Errorf("Rescaling %v %v", l[4].Scale, l[4].Offset)
	}
	if l[5].Kernel != [2]int{2, 2} || l[5].Strides != [2]int{2, 2} || l[5].Padding != "valid" || !reflect.DeepEqual(l[5].Out, Shape{4, 4, 3}) {
		t.Errorf("MaxPooling2D %+v", l[5])
	}
	if l[6].Strides != [2]int{1, 1} || !reflect.DeepEqual(l[6].Out, Shape{4, 4, 3}) || l[6].Pad != [4]int{0, 1, 0, 1} {
		t.Errorf("AveragePooling2D %+v", l[6])
	}
	if c := l[7]; c.Activation != "linear" || c.UseBias || c.Trainable || len(c.Params) != 1 || c.Params[0].Trainable {
		t.Errorf("Conv2D %+v", c)
	}
	if d := l[10]; d.Activation != "linear" || !d.UseBias || d.Name != "dense" {
		t.Errorf("Dense %+v", d)
	}
	m = checkString(t, "model o {\n Input(shape=(4,))\n Dense(2, activation=\"softmax\")\n}\ncompile(SGD(momentum=0.9), 'categorical_crossentropy')\n")
	if o := m.Compile.Optimizer; o != (Optimizer{Name: "sgd", LearningRate: 0.01, Momentum: 0.9}) {
		t.Errorf("SGD = %+v", o)
	}
	m = checkString(t, "model o {\n Input(shape=(28, 28, 1))\n Flatten()\n Dense(1, activation=\"sigmoid\")\n}\ncompile(\"adam\", loss='binary_crossentropy')\nfit(mnist(), seed=3, validation_split=.1, callbacks=[EarlyStopping(\"loss\", patience=2)])\n")
	if o := m.Compile.Optimizer; o != (Optimizer{Name: "adam", LearningRate: 0.001, Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-7}) {
		t.Errorf("adam = %+v", o)
	}
	if f := m.Fit; !f.HasSeed || f.Seed != 3 || f.ValidationSplit != 0.1 || len(f.Callbacks) != 1 || f.Callbacks[0].Monitor != "loss" || f.Callbacks[0].Patience != 2 {
		t.Errorf("fit = %+v", f)
	}
}

func TestSource(t *testing.T) {
	m := checkString(t, "model s {\n  Input(shape=(4,))\n  Dense(\n    2,  # units\n    activation='softmax' ,\n  )\n}\n")
	if got, want := m.Layers[1].Source, "Dense(2, activation='softmax',)"; got != want {
		t.Errorf("Source = %q, want %q", got, want)
	}
}

func TestErrorList(t *testing.T) {
	var l ErrorList
	if l.Err() != nil {
		t.Errorf("empty list: Err() != nil")
	}
	for i := 12; i >= 1; i-- {
		l.add(Pos{File: "a.cnn", Line: i, Col: 2}, "e%d", i)
	}
	s := l.Error()
	lines := strings.Split(s, "\n")
	if len(lines) != 11 || lines[0] != "a.cnn:1:2: e1" || lines[9] != "a.cnn:10:2: e10" || lines[10] != "and 2 more errors" {
		t.Errorf("Error() =\n%s", s)
	}
	if l.Err() == nil {
		t.Errorf("Err() = nil")
	}
	_, errs := CheckFile("testdata/does-not-exist.cnn")
	if len(errs) != 1 || errs[0].Error() != "testdata/does-not-exist.cnn: no such file or directory" {
		t.Errorf("CheckFile: %v", errs)
	}
}

func TestSuggest(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"conv2d", "Conv2D"}, {"Conv2d", "Conv2D"}, {"Dens", "Dense"}, {"MaxPool2D", "MaxPooling2D"}, {"xyz", ""}, {"Input", "Input"},
	} {
		if got := suggest(tc.in, layerNames); got != tc.want {
			t.Errorf("suggest(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestKeras2Spellings checks that lr= sets the learning rate and "acc"
// names the accuracy metric, as in Keras 2.
func TestKeras2Spellings(t *testing.T) {
	m, errs := Check("k.cnn", []byte("model m {\n Input(shape=(4,))\n Dense(2, activation=\"softmax\")\n}\ncompile(optimizer=keras.optimizers.Adam(lr=0.002), loss=\"sparse_categorical_crossentropy\", metrics=[\"acc\"])\n"))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if o := m.Compile.Optimizer; o.Name != "adam" || o.LearningRate != 0.002 || len(m.Compile.Metrics) != 1 || m.Compile.Metrics[0] != "accuracy" {
		t.Errorf("optimizer %+v, metrics %v", o, m.Compile.Metrics)
	}
}

package runtime

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// stripes draws an image of class 0 (horizontal stripes) or 1 (vertical
// stripes) with a random period, phase, colors and noise.
func stripes(rng *RNG, class, w, h int) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	period := 4 + rng.Intn(5)
	phase := rng.Intn(period)
	a := color.RGBA{uint8(rng.Intn(100)), uint8(rng.Intn(100)), uint8(rng.Intn(100)), 255}
	b := color.RGBA{uint8(155 + rng.Intn(100)), uint8(155 + rng.Intn(100)), uint8(155 + rng.Intn(100)), 255}
	for y := range h {
		for x := range w {
			t := y
			if class == 1 {
				t = x
			}
			c := a
			if (t+phase)%period < period/2 {
				c = b
			}
			n := rng.Intn(41) - 20
			c.R = uint8(min(255, max(0, int(c.R)+n)))
			img.Set(x, y, c)
		}
	}
	return img
}

// writeImage writes img as JPEG or PNG, by the extension of path.
func writeImage(t testing.TB, path string, img image.Image) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	var err error
	if strings.HasSuffix(path, ".png") {
		err = png.Encode(&buf, img)
	} else {
		err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90})
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeStripesFolder makes dir/{train,validation,test}/{horizontal,vertical}
// with n[split] images per class, alternating JPEG and PNG and three sizes.
func writeStripesFolder(t testing.TB, dir string, n map[string]int) {
	t.Helper()
	rng := NewRNG(7)
	sizes := [][2]int{{40, 40}, {48, 36}, {29, 33}}
	for _, split := range []string{"train", "validation", "test"} {
		for class, name := range []string{"horizontal", "vertical"} {
			for i := range n[split] {
				ext := ".jpg"
				if i%2 == 1 {
					ext = ".png"
				}
				sz := sizes[i%len(sizes)]
				writeImage(t, filepath.Join(dir, split, name, fmt.Sprintf("%s.%d%s", name, i, ext)), stripes(&rng, class, sz[0], sz[1]))
			}
		}
	}
}

// stripesNet is a scaled-down cats_vs_dogs_augmented: 32x32 RGB input,
// RandomFlip, Rescaling, two small convolutions, Dropout and one sigmoid
// unit, run by the reference interpreter.
func stripesNet(dir string, callbacks ...Callback) *Reference {
	s := buildSpec([]int{32, 32, 3},
		tFlip(true, false), tRescaling(1./255, 0),
		tConv(8, 3, 3, 1, 1, false, "relu"), tPool("MaxPooling2D", 2, 2, 2, 2, false),
		tConv(8, 3, 3, 1, 1, false, "relu"), tPool("MaxPooling2D", 2, 2, 2, 2, false),
		tFlatten(), tDropout(0.5), tDense(1, "sigmoid"))
	s.Name, s.File, s.Hash = "stripes", "stripes.cnn", "abc"
	s.Loss = "binary_crossentropy"
	s.Data, s.DataPath, s.ImageSize, s.ColorMode = "image_directory", dir, [2]int{32, 32}, "rgb"
	s.Epochs, s.BatchSize = 8, 16
	s.Optimizer = Optimizer{Name: "rmsprop", LearningRate: 1e-3, Rho: 0.9, Epsilon: 1e-7}
	s.Callbacks = callbacks
	return NewReference(s)
}

func TestImageDirectoryTrainsToHighAccuracy(t *testing.T) {
	start := time.Now()
	dir := t.TempDir()
	writeStripesFolder(t, dir, map[string]int{"train": 60, "validation": 20, "test": 30})
	best := filepath.Join(dir, "best.safetensors")
	hist := filepath.Join(dir, "history.csv")
	net := stripesNet(dir, Callback{Kind: "ModelCheckpoint", Path: best, Monitor: "val_loss", SaveBestOnly: true})
	code, stdout, stderr := runMain(net, "train", "-out", filepath.Join(dir, "last.safetensors"), "-history", hist, "-json")
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, stderr, stdout)
	}
	for _, want := range []string{"Epoch 8/8", "val_loss: ", "val_accuracy: ", "saving model to " + best, "evaluating the best checkpoint " + best} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	m := regexp.MustCompile(`test accuracy: ([0-9.]+)`).FindStringSubmatch(stdout)
	if m == nil {
		t.Fatalf("no test accuracy in\n%s", stdout)
	}
	if acc, _ := strconv.ParseFloat(m[1], 64); acc <= 0.9 {
		t.Errorf("test accuracy %.3f, want > 0.9\n%s", acc, stdout)
	}
	h, err := ReadHistoryCSV(hist)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(h.Metrics, ","); got != "epoch,accuracy,loss,val_accuracy,val_loss" || len(h.Rows) != 8 {
		t.Errorf("history has columns %s and %d rows", got, len(h.Rows))
	}
	t.Logf("%v", time.Since(start))
}

// TestImageSourceGolden checks decoding, resizing and labels end to end on
// a 4x4 PNG whose resized pixels are known: halving with half-pixel
// centers averages each 2x2 block.
func TestImageSourceGolden(t *testing.T) {
	dir := t.TempDir()
	img := image.NewNRGBA(image.Rect(0, 0, 4, 4))
	for y := range 4 {
		for x := range 4 {
			img.Set(x, y, color.NRGBA{uint8(10 * (4*y + x)), 100, 200, 255})
		}
	}
	for _, split := range []string{"train", "test"} {
		writeImage(t, filepath.Join(dir, split, "a", "x.png"), img)
		writeImage(t, filepath.Join(dir, split, "b", "y.png"), img)
	}
	spec := buildSpec([]int{2, 2, 3}, tFlatten(), tDense(1, "sigmoid"))
	spec.Loss, spec.ImageSize, spec.ColorMode = "binary_crossentropy", [2]int{2, 2}, "rgb"
	train, val, _, err := LoadImageDirectory(spec, dir, ImageDirOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if val != nil || train.Len() != 2 || strings.Join(train.Classes, ",") != "a,b" {
		t.Fatalf("val %v, %d samples, classes %v", val, train.Len(), train.Classes)
	}
	x, y := make([]float32, 12), make([]float32, 1)
	train.Sample(1, x, y)
	// Block averages of R = 10*(4y+x): (0+10+40+50)/4 = 25, 45, 105, 125.
	want := []float32{25, 100, 200, 45, 100, 200, 105, 100, 200, 125, 100, 200}
	for i := range want {
		if math.Abs(float64(x[i]-want[i])) > 1e-4 {
			t.Fatalf("pixels %v, want %v", x, want)
		}
	}
	if y[0] != 1 {
		t.Errorf("label %v, want 1", y[0])
	}

	// Sparse and one-hot labels, grayscale and RGBA.
	spec = buildSpec([]int{2, 2, 1}, tFlatten(), tDense(2, "softmax"))
	spec.ImageSize, spec.ColorMode = [2]int{2, 2}, "grayscale"
	train, _, _, err = LoadImageDirectory(spec, dir, ImageDirOptions{})
	if err != nil {
		t.Fatal(err)
	}
	x = make([]float32, 4)
	train.Sample(1, x, y)
	if y[0] != 1 {
		t.Errorf("sparse label %v, want 1", y[0])
	}
	spec = buildSpec([]int{2, 2, 4}, tFlatten(), tDense(2, "softmax"))
	spec.Loss, spec.ImageSize, spec.ColorMode = "categorical_crossentropy", [2]int{2, 2}, "rgba"
	train, _, _, err = LoadImageDirectory(spec, dir, ImageDirOptions{})
	if err != nil {
		t.Fatal(err)
	}
	x, y = make([]float32, 16), make([]float32, 2)
	train.Sample(0, x, y)
	if y[0] != 1 || y[1] != 0 || x[0] != 25 || x[3] != 255 {
		t.Errorf("one-hot label %v, pixel %v", y, x[:4])
	}
}

// bmpFile encodes a w x h 24-bit bottom-up BMP whose pixel (x, y) is
// (x, y, 7) in RGB.
func bmpFile(w, h int) []byte {
	stride := (3*w + 3) &^ 3
	var b bytes.Buffer
	b.WriteString("BM")
	binary.Write(&b, binary.LittleEndian, []uint32{uint32(54 + stride*h), 0, 54, 40})
	binary.Write(&b, binary.LittleEndian, []int32{int32(w), int32(h)})
	binary.Write(&b, binary.LittleEndian, []uint16{1, 24})
	binary.Write(&b, binary.LittleEndian, []uint32{0, uint32(stride * h), 2835, 2835, 0, 0})
	for y := h - 1; y >= 0; y-- {
		row := make([]byte, stride)
		for x := range w {
			row[3*x], row[3*x+1], row[3*x+2] = 7, byte(y), byte(x)
		}
		b.Write(row)
	}
	return b.Bytes()
}

func TestLoadBMP(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.bmp")
	os.WriteFile(path, bmpFile(3, 2), 0o644)
	x, err := LoadImageFile(path, 2, 3, 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{0, 0, 7, 1, 0, 7, 2, 0, 7, 0, 1, 7, 1, 1, 7, 2, 1, 7}
	for i := range want {
		if x[i] != want[i] {
			t.Fatalf("pixels %v, want %v", x, want)
		}
	}
	// A palette BMP is reported as unsupported, not as damaged.
	b := bmpFile(3, 2)
	binary.LittleEndian.PutUint16(b[28:], 8)
	os.WriteFile(path, b, 0o644)
	if _, err := LoadImageFile(path, 2, 3, 3, 1); err == nil || !strings.Contains(err.Error(), "only uncompressed 24- and 32-bit") {
		t.Errorf("palette BMP: %v", err)
	}
	os.WriteFile(path, bmpFile(3, 2)[:60], 0o644)
	if _, err := LoadImageFile(path, 2, 3, 3, 1); err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("truncated BMP: %v", err)
	}
}

// TestImageDirectoryBadInput gives each kind of bad folder and checks for
// a clear error (or, with -skip-bad-images, a counted warning).
func TestImageDirectoryBadInput(t *testing.T) {
	good := func(t *testing.T) string {
		dir := t.TempDir()
		writeStripesFolder(t, dir, map[string]int{"train": 3, "validation": 2, "test": 2})
		return dir
	}
	jpegBytes := func() []byte {
		var buf bytes.Buffer
		jpeg.Encode(&buf, stripes(newRNG(1), 0, 40, 40), nil)
		return buf.Bytes()
	}
	cases := []struct {
		name   string
		mangle func(dir string)
		size   int
		skip   bool
		want   string
	}{
		{"truncated JPEG", func(dir string) {
			b := jpegBytes()
			os.WriteFile(filepath.Join(dir, "train", "vertical", "bad.jpg"), b[:len(b)/2], 0o644)
		}, 32, false, "train/vertical/bad.jpg: the jpeg image is truncated"},
		{"truncated JPEG skipped", func(dir string) {
			b := jpegBytes()
			os.WriteFile(filepath.Join(dir, "train", "vertical", "bad.jpg"), b[:len(b)/2], 0o644)
		}, 32, true, ""},
		{"corrupt JPEG", func(dir string) {
			os.WriteFile(filepath.Join(dir, "train", "vertical", "bad.jpg"), corruptScan(jpegBytes()), 0o644)
		}, 32, false, "bad.jpg"},
		{"not an image", func(dir string) {
			os.WriteFile(filepath.Join(dir, "test", "vertical", "notes.png"), []byte("hello, this is text"), 0o644)
		}, 32, false, "test/vertical/notes.png: not a PNG, JPEG, GIF or BMP image"},
		{"empty class folder", func(dir string) {
			os.MkdirAll(filepath.Join(dir, "validation", "zebra"), 0o755)
			os.MkdirAll(filepath.Join(dir, "train", "zebra"), 0o755)
			os.WriteFile(filepath.Join(dir, "train", "zebra", "readme.txt"), nil, 0o644)
		}, 32, false, "train/zebra has no images"},
		{"classes differ", func(dir string) {
			os.Rename(filepath.Join(dir, "validation", "vertical"), filepath.Join(dir, "validation", "upright"))
		}, 32, false, "validation has the classes horizontal, upright, but"},
		{"missing train", func(dir string) {
			os.RemoveAll(filepath.Join(dir, "train"))
		}, 32, false, "missing train/ folder"},
		{"three classes for a sigmoid", func(dir string) {
			for _, s := range []string{"train", "validation", "test"} {
				writeImage(t, filepath.Join(dir, s, "zebra", "z.png"), stripes(newRNG(1), 0, 8, 8))
			}
		}, 32, false, "has 3 classes (horizontal, vertical, zebra); a model with one sigmoid output and binary_crossentropy needs exactly 2"},
		{"image_size too large", func(string) {}, 5000, false, "image_size=(5000, 5000) is larger than 4096"},
		{"zero pixels", func(dir string) {
			// A GIF whose logical screen is 0x0.
			b := []byte("GIF89a\x00\x00\x00\x00\x00\x00\x00,\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x02D\x01\x00;")
			os.WriteFile(filepath.Join(dir, "train", "horizontal", "empty.gif"), b, 0o644)
		}, 32, false, "train/horizontal/empty.gif: the gif image has no pixels (0x0)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := good(t)
			c.mangle(dir)
			spec := stripesNet(dir).Spec()
			if c.size != 32 {
				spec.ImageSize = [2]int{c.size, c.size}
				spec.Layers[0].Out = []int{c.size, c.size, 3}
			}
			var warn bytes.Buffer
			train, _, test, err := LoadImageDirectory(spec, dir, ImageDirOptions{SkipBad: c.skip, Warn: &warn})
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(warn.String(), "skipped 1 bad images of 7") || train.Len() != 6 {
					t.Errorf("warnings %q, %d samples", warn.String(), train.Len())
				}
				return
			}
			if err == nil {
				// Damage inside the compressed data shows when decoding.
				x, y := make([]float32, spec.InputSize()), make([]float32, 1)
				for _, s := range []*ImageSource{train, test} {
					for i := range s.Len() {
						s.Sample(i, x, y)
					}
				}
				err = sourceErr(train, test)
			}
			if err == nil || !strings.Contains(filepath.ToSlash(err.Error()), c.want) {
				t.Errorf("error %v, want it to contain %q", err, c.want)
			}
		})
	}
}

// TestImageDirectorySkipsDuringTraining checks that a file that passes the
// cheap checks but fails to decode is replaced, with -skip-bad-images, by
// the next image, and counted.
func TestImageDirectorySkipsDuringTraining(t *testing.T) {
	dir := t.TempDir()
	writeStripesFolder(t, dir, map[string]int{"train": 2, "test": 1})
	var buf bytes.Buffer
	jpeg.Encode(&buf, stripes(newRNG(1), 0, 40, 40), nil)
	os.WriteFile(filepath.Join(dir, "train", "horizontal", "horizontal.0.jpg"), corruptScan(buf.Bytes()), 0o644)
	spec := stripesNet(dir).Spec()
	train, _, _, err := LoadImageDirectory(spec, dir, ImageDirOptions{SkipBad: true})
	if err != nil {
		t.Fatal(err)
	}
	x, y := make([]float32, spec.InputSize()), make([]float32, 1)
	train.Sample(0, x, y)
	train.Sample(0, x, y)
	if train.Replaced() != 2 || train.Err() == nil || sourceErr(train) != nil {
		t.Errorf("replaced %d, err %v", train.Replaced(), train.Err())
	}
}

// BenchmarkDecodeImage measures decoding and resizing one 500x375 JPEG,
// the typical size of the Kaggle photos, to 180x180 RGB.
func BenchmarkDecodeImage(b *testing.B) {
	path := filepath.Join(b.TempDir(), "cat.0.jpg")
	writeImage(b, path, stripes(newRNG(3), 0, 500, 375))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := LoadImageFile(path, 180, 180, 3, 1); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
}

func newRNG(seed uint64) *RNG { r := NewRNG(seed); return &r }

// corruptScan damages a JPEG's compressed data after its start-of-scan
// marker, leaving the header and the end marker intact, so that only a
// full decode finds the damage.
func corruptScan(b []byte) []byte {
	i := bytes.Index(b, []byte{0xff, 0xda})
	for j := i + 20; j+1 < len(b)-2; j += 2 {
		b[j], b[j+1] = 0xff, 0x01
	}
	return b
}

// opaqueImage hides an image's concrete type, so toFloat takes its
// generic path.
type opaqueImage struct{ image.Image }

// TestToFloatYCbCrFastPath checks that the YCbCr fast path gives exactly
// the values of the generic path on a chroma-subsampled JPEG.
func TestToFloatYCbCrFastPath(t *testing.T) {
	var buf bytes.Buffer
	jpeg.Encode(&buf, stripes(newRNG(5), 1, 37, 21), &jpeg.Options{Quality: 75})
	img, err := jpeg.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := img.(*image.YCbCr); !ok {
		t.Fatalf("decoded a %T", img)
	}
	for _, c := range []int{1, 3, 4} {
		fast, slow := make([]float32, 37*21*c), make([]float32, 37*21*c)
		toFloat(fast, img, c)
		toFloat(slow, opaqueImage{img}, c)
		for i := range fast {
			if fast[i] != slow[i] {
				t.Fatalf("c=%d: value %d is %v, the generic path gives %v", c, i, fast[i], slow[i])
			}
		}
	}
}

// TestOutKeepsBestCheckpoint trains with a ModelCheckpoint(save_best_only)
// whose file is the trainer's default -out, as the book's file names make
// it for specs/vgg16: the file must end with the best epoch's weights, the
// ones a run with separate files leaves in its checkpoint, and not be
// overwritten with the last epoch's. An explicit -out naming that file is
// refused before training.
func TestOutKeepsBestCheckpoint(t *testing.T) {
	dir := t.TempDir()
	writeStripesFolder(t, dir, map[string]int{"train": 40, "validation": 20, "test": 10})
	t.Chdir(dir)
	cb := func(path string) Callback {
		return Callback{Kind: "ModelCheckpoint", Path: path, Monitor: "val_loss", SaveBestOnly: true}
	}
	// Separate files: best.safetensors has the best epoch, last.safetensors
	// the last.
	net := stripesNet(dir, cb("best.safetensors"))
	net.spec.Optimizer.LearningRate = 0.01
	if code, stdout, stderr := runMain(net, "train", "-out", "last.safetensors", "-seed", "3"); code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, stderr, stdout)
	}
	// The same run with the checkpoint at the default -out, stripes.safetensors.
	net = stripesNet(dir, cb("stripes.safetensors"))
	net.spec.Optimizer.LearningRate = 0.01
	code, stdout, stderr := runMain(net, "train", "-seed", "3")
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, stderr, stdout)
	}
	if !strings.Contains(stdout, "stripes.safetensors keeps the best epoch's weights") {
		t.Errorf("output does not say where the best weights are:\n%s", stdout)
	}
	read := func(p string) []NamedTensor {
		ts, _, err := ReadSafetensors(p)
		if err != nil {
			t.Fatal(err)
		}
		return ts
	}
	got, best, last := read("stripes.safetensors"), read("best.safetensors"), read("last.safetensors")
	same := func(a, b []NamedTensor) bool {
		for i := range a {
			for j := range a[i].Data {
				if math.Float32bits(a[i].Data[j]) != math.Float32bits(b[i].Data[j]) {
					return false
				}
			}
		}
		return true
	}
	if same(best, last) {
		t.Fatal("the best epoch is the last, so this test shows nothing; change the learning rate or the seed")
	}
	if !same(got, best) {
		t.Errorf("stripes.safetensors does not hold the best epoch's weights (it holds the last epoch's: %v)", same(got, last))
	}

	code, _, stderr = runMain(stripesNet(dir, cb("stripes.safetensors")), "train", "-out", "./stripes.safetensors")
	if code == 0 || !strings.Contains(stderr, "is the file of the spec's ModelCheckpoint") {
		t.Errorf("-out naming the checkpoint: exit %d, %s", code, stderr)
	}
}

// TestPredictPrintsLabels trains on an image folder and predicts its test
// images: the weights file records the class folders, and predict prints
// each image's class name next to its index, as the folders name them.
func TestPredictPrintsLabels(t *testing.T) {
	dir := t.TempDir()
	writeStripesFolder(t, dir, map[string]int{"train": 40, "validation": 10, "test": 4})
	w := filepath.Join(dir, "w.safetensors")
	if code, _, e := runMain(stripesNet(dir), "train", "-out", w, "-epochs", "4"); code != 0 {
		t.Fatal(e)
	}
	_, meta, err := ReadSafetensors(w)
	if err != nil || meta["classes"] != `["horizontal","vertical"]` {
		t.Fatalf("metadata classes %q, %v", meta["classes"], err)
	}
	img := filepath.Join(dir, "test", "vertical", "vertical.0.jpg")
	code, out, e := runMain(stripesNet(dir), "predict", img, "-weights", w)
	if code != 0 {
		t.Fatal(e)
	}
	var got struct {
		Class int    `json:"class"`
		Label string `json:"label"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil || got.Label != []string{"horizontal", "vertical"}[got.Class] {
		t.Errorf("predict printed %q (%v)", out, err)
	}
}

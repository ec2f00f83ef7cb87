package runtime

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/color/palette"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func writePNG(t *testing.T, path string, img image.Image) {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoadImageColorConversion(t *testing.T) {
	dir := t.TempDir()
	img := image.NewNRGBA(image.Rect(0, 0, 4, 1))
	img.Set(0, 0, color.NRGBA{255, 0, 0, 255})
	img.Set(1, 0, color.NRGBA{0, 255, 0, 255})
	img.Set(2, 0, color.NRGBA{0, 0, 255, 128}) // alpha is dropped, not composited
	img.Set(3, 0, color.NRGBA{10, 200, 30, 255})
	path := filepath.Join(dir, "rgb.png")
	writePNG(t, path, img)

	// Pillow: Image.new("RGB", ...) with these pixels, convert("L") gives
	// 76, 150, 29 for pure red, green and blue.
	got, err := LoadImageFile(path, 1, 4, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if want := []float32{76, 150, 29, 124}; !reflect.DeepEqual(got, want) {
		t.Errorf("grayscale = %v, want %v", got, want)
	}
	got, err = LoadImageFile(path, 1, 4, 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	if want := []float32{255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 200, 30}; !reflect.DeepEqual(got, want) {
		t.Errorf("RGB = %v, want %v", got, want)
	}

	gray := image.NewGray(image.Rect(0, 0, 2, 1))
	gray.Pix = []uint8{0, 255}
	gpath := filepath.Join(dir, "gray.png")
	writePNG(t, gpath, gray)
	got, err = LoadImageFile(gpath, 1, 2, 3, 1.0/255)
	if err != nil {
		t.Fatal(err)
	}
	if want := []float32{0, 0, 0, 1, 1, 1}; !reflect.DeepEqual(got, want) {
		t.Errorf("gray as RGB = %v, want %v", got, want)
	}
	got, _ = LoadImageFile(gpath, 1, 2, 1, 1.0/255)
	if want := []float32{0, 1}; !reflect.DeepEqual(got, want) {
		t.Errorf("gray = %v, want %v", got, want)
	}
}

func TestLoadImageJPEGAndGIF(t *testing.T) {
	dir := t.TempDir()
	img := image.NewGray(image.Rect(0, 0, 16, 16))
	for i := range img.Pix {
		img.Pix[i] = 100
	}
	var buf bytes.Buffer
	jpeg.Encode(&buf, img, &jpeg.Options{Quality: 100})
	jpath := filepath.Join(dir, "a.jpg")
	os.WriteFile(jpath, buf.Bytes(), 0o644)
	got, err := LoadImageFile(jpath, 16, 16, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range got {
		if math.Abs(float64(v)-100) > 1 {
			t.Fatalf("jpeg pixel %d = %v, want about 100", i, v)
		}
	}

	pal := image.NewPaletted(image.Rect(0, 0, 2, 2), palette.WebSafe)
	pal.Set(1, 0, color.RGBA{255, 0, 0, 255})
	buf.Reset()
	gif.Encode(&buf, pal, nil)
	gpath := filepath.Join(dir, "a.gif")
	os.WriteFile(gpath, buf.Bytes(), 0o644)
	got, err = LoadImageFile(gpath, 2, 2, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if want := []float32{0, 76, 0, 0}; !reflect.DeepEqual(got, want) {
		t.Errorf("gif = %v, want %v", got, want)
	}
}

func TestResizeBilinearKnownValues(t *testing.T) {
	// Upsampling 2x2 to 4x4: the half-pixel sample positions are -0.25,
	// 0.25, 0.75 and 1.25, clamped at the edges.
	got := resizeBilinear([]float32{0, 100, 200, 300}, 2, 2, 1, 4, 4)
	want := []float32{
		0, 25, 75, 100,
		50, 75, 125, 150,
		150, 175, 225, 250,
		200, 225, 275, 300,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("2x2 -> 4x4:\n got %v\nwant %v", got, want)
	}
	// Downsampling 4x1 to 2x1 samples at 0.5 and 2.5.
	got = resizeBilinear([]float32{0, 10, 20, 40}, 1, 4, 1, 1, 2)
	if want := []float32{5, 30}; !reflect.DeepEqual(got, want) {
		t.Errorf("4 -> 2: got %v, want %v", got, want)
	}
	// Through LoadImageFile, with channels kept apart.
	img := image.NewNRGBA(image.Rect(0, 0, 2, 1))
	img.Set(0, 0, color.NRGBA{0, 100, 200, 255})
	img.Set(1, 0, color.NRGBA{100, 0, 40, 255})
	path := filepath.Join(t.TempDir(), "r.png")
	writePNG(t, path, img)
	got, err := LoadImageFile(path, 1, 4, 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	if want := []float32{0, 100, 200, 25, 75, 160, 75, 25, 80, 100, 0, 40}; !reflect.DeepEqual(got, want) {
		t.Errorf("RGB resize: got %v, want %v", got, want)
	}
}

// TestResizeBilinearReference compares the TensorFlow-ordered float32
// resize with a plain float64 statement of the same definition.
func TestResizeBilinearReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 50 {
		ih, iw, oh, ow, c := 1+rng.IntN(9), 1+rng.IntN(9), 1+rng.IntN(9), 1+rng.IntN(9), 1+2*rng.IntN(2)
		src := make([]float32, ih*iw*c)
		for i := range src {
			src[i] = float32(rng.IntN(256))
		}
		got := resizeBilinear(src, ih, iw, c, oh, ow)
		at := func(y, x, ch int) float64 { return float64(src[(y*iw+x)*c+ch]) }
		for oy := range oh {
			fy := (float64(oy)+0.5)*float64(ih)/float64(oh) - 0.5
			y0, y1 := max(int(math.Floor(fy)), 0), min(int(math.Ceil(fy)), ih-1)
			wy := fy - math.Floor(fy)
			for ox := range ow {
				fx := (float64(ox)+0.5)*float64(iw)/float64(ow) - 0.5
				x0, x1 := max(int(math.Floor(fx)), 0), min(int(math.Ceil(fx)), iw-1)
				wx := fx - math.Floor(fx)
				for ch := range c {
					top := at(y0, x0, ch)*(1-wx) + at(y0, x1, ch)*wx
					bot := at(y1, x0, ch)*(1-wx) + at(y1, x1, ch)*wx
					want := top*(1-wy) + bot*wy
					if g := float64(got[(oy*ow+ox)*c+ch]); math.Abs(g-want) > 1e-3 {
						t.Fatalf("%dx%dx%d -> %dx%d at (%d,%d,%d): got %v, want %v", ih, iw, c, oh, ow, oy, ox, ch, g, want)
					}
				}
			}
		}
	}
}

func TestLoadImageBadInput(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.png")
	writePNG(t, good, image.NewGray(image.Rect(0, 0, 3, 3)))
	raw, _ := os.ReadFile(good)

	text := filepath.Join(dir, "notes.txt")
	os.WriteFile(text, []byte("hello, not an image"), 0o644)
	trunc := filepath.Join(dir, "trunc.png")
	os.WriteFile(trunc, raw[:len(raw)-20], 0o644)
	headerOnly := filepath.Join(dir, "header.png")
	os.WriteFile(headerOnly, raw[:10], 0o644)

	// A valid PNG header that claims 100000 x 100000 pixels.
	huge := bytes.Clone(raw[:33])
	binary.BigEndian.PutUint32(huge[16:], 100000)
	binary.BigEndian.PutUint32(huge[20:], 100000)
	binary.BigEndian.PutUint32(huge[29:], crc32.ChecksumIEEE(huge[12:29]))
	hugePath := filepath.Join(dir, "huge.png")
	os.WriteFile(hugePath, huge, 0o644)

	for _, c := range []struct {
		path    string
		h, w, c int
		want    string
	}{
		{text, 3, 3, 1, text + ": not a PNG, JPEG, GIF or BMP image; convert it to one of those"},
		{trunc, 3, 3, 1, trunc + ": the png image is truncated; the file is incomplete or damaged"},
		{headerOnly, 3, 3, 1, headerOnly + ": the image is truncated; the file is incomplete or damaged"},
		{hugePath, 3, 3, 1, hugePath + ": the png image is 100000x100000, larger than the 67108864-pixel limit"},
		{good, 3, 3, 2, good + ": cannot load an image as 3x3x2"},
		{good, 0, 3, 1, good + ": cannot load an image as 0x3x1"},
		{filepath.Join(dir, "missing.png"), 3, 3, 1, "open " + filepath.Join(dir, "missing.png") + ": no such file or directory"},
		{dir, 3, 3, 1, dir + " is a folder, not an image file"},
	} {
		_, err := LoadImageFile(c.path, c.h, c.w, c.c, 1)
		if err == nil || !strings.HasPrefix(err.Error(), c.want) && !strings.Contains(err.Error(), c.want) {
			t.Errorf("LoadImageFile(%s, %dx%dx%d) error %v\nwant %s", filepath.Base(c.path), c.h, c.w, c.c, err, c.want)
		}
	}
}

// TestImageInputMatchesPredict checks that ImageInput, which the generated
// PredictImage uses, gives the bits the trainer's predict computes from the
// same image saved as a file: a 112x112 digit is resized to 28x28 and
// divided by 255 for an mnist() model, and left in [0, 255] for an
// image_directory() one.
func TestImageInputMatchesPredict(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 112, 112))
	for y := 20; y < 92; y++ {
		for x := 50; x < 62; x++ {
			img.Set(x, y, color.RGBA{230, 210, 190, 255})
		}
	}
	path := filepath.Join(t.TempDir(), "digit.png")
	var buf bytes.Buffer
	png.Encode(&buf, img)
	os.WriteFile(path, buf.Bytes(), 0o644)
	for _, tc := range []struct {
		data  string
		shape []int
	}{{"mnist", []int{28, 28, 1}}, {"image_directory", []int{32, 30, 3}}} {
		spec := &Spec{Data: tc.data, Layers: []Layer{{Kind: "InputLayer", Out: tc.shape}}}
		got := ImageInput(spec, img)
		want, err := LoadImageFile(path, tc.shape[0], tc.shape[1], tc.shape[2], 1)
		if err != nil {
			t.Fatal(err)
		}
		if spec.dividesPixels() {
			for i := range want {
				want[i] /= 255
			}
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %d floats, want %d", tc.data, len(got), len(want))
		}
		for i := range want {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("%s: element %d = %g, predict computes %g", tc.data, i, got[i], want[i])
			}
		}
	}
}

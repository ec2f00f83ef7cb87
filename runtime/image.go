package runtime

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/gif" // registers GIF with image.Decode
	_ "image/jpeg"
	_ "image/png"
	"io"
	"math"
	"os"
	"strings"
	"sync"
)

// maxImagePixels bounds the images LoadImageFile decodes, so that a small
// file whose header claims a huge size cannot exhaust memory.
const maxImagePixels = 1 << 26

// bigImagePixels is the size above which images are decoded one at a time
// (bigImage), whatever the number of workers: a 8000x8000 PNG of a few KB
// takes hundreds of MB to decode.
const bigImagePixels = 1 << 22

var bigImage sync.Mutex

// LoadImageFile decodes a PNG, JPEG, GIF (its first frame) or BMP file
// into an h x w x c float32 tensor in HWC order, each value multiplied by
// scale (1/255 for MNIST-style inputs, 1 when the model starts with
// Rescaling).
//
// With c = 1 color images become grayscale as Pillow's convert("L") does,
// which Keras's load_img uses: L = (19595*R + 38470*G + 7471*B + 32768) >> 16,
// the ITU-R 601 luma R*299/1000 + G*587/1000 + B*114/1000 in Pillow's
// rounding. With c = 3 grayscale images are repeated in each channel. Alpha
// is dropped without compositing, as Pillow does. With c = 4
// (color_mode="rgba") the channels are non-premultiplied R, G, B, A, and
// images without alpha are opaque (A = 255). An image of another size
// is resized bilinearly to h x w with half-pixel centers, as TensorFlow's
// tf.image.resize does with antialias=False.
func LoadImageFile(path string, h, w, c int, scale float32) ([]float32, error) {
	if h <= 0 || w <= 0 || (c != 1 && c != 3 && c != 4) {
		return nil, fmt.Errorf("%s: cannot load an image as %dx%dx%d; the model's input must be height x width x 1 (grayscale), x 3 (RGB) or x 4 (RGBA)", path, h, w, c)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		return nil, fmt.Errorf("%s is a folder, not an image file", path)
	}
	cfg, format, err := image.DecodeConfig(f)
	if err != nil {
		return nil, decodeError(path, "", err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, fmt.Errorf("%s: the %s image is empty (%dx%d)", path, format, cfg.Width, cfg.Height)
	}
	if int64(cfg.Width)*int64(cfg.Height) > maxImagePixels {
		return nil, fmt.Errorf("%s: the %s image is %dx%d, larger than the %d-pixel limit; shrink it first", path, format, cfg.Width, cfg.Height, maxImagePixels)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	// A large image costs several bytes per pixel in each of its decoded
	// forms; one at a time keeps the workers from multiplying that.
	if int64(cfg.Width)*int64(cfg.Height) > bigImagePixels {
		bigImage.Lock()
		defer bigImage.Unlock()
	}
	img, _, err := image.Decode(f)
	if err != nil {
		return nil, decodeError(path, format, err)
	}
	src := imageFloats(img, h, w, c, scale)
	return src, nil
}

func decodeError(path, format string, err error) error {
	if errors.Is(err, image.ErrFormat) {
		return fmt.Errorf("%s: not a PNG, JPEG, GIF or BMP image; convert it to one of those", path)
	}
	if errors.Is(err, errBMPUnsupported) {
		return fmt.Errorf("%s: %v", path, err)
	}
	what := "image"
	if format != "" {
		what = format + " image"
	}
	// image/png reports a short file as a FormatError, not io.ErrUnexpectedEOF.
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || strings.Contains(err.Error(), "unexpected EOF") {
		return fmt.Errorf("%s: the %s is truncated; the file is incomplete or damaged", path, what)
	}
	return fmt.Errorf("%s: cannot decode the %s: %v; the file is damaged", path, what, err)
}

// toFloat writes img's pixels into dst as c-channel values in [0, 255].
func toFloat(dst []float32, img image.Image, c int) {
	b := img.Bounds()
	i := 0
	if g, ok := img.(*image.Gray); ok && c != 4 {
		for y := b.Min.Y; y < b.Max.Y; y++ {
			row := g.Pix[g.PixOffset(b.Min.X, y):]
			for x := range b.Dx() {
				v := float32(row[x])
				for range c {
					dst[i] = v
					i++
				}
			}
		}
		return
	}
	// JPEGs decode to YCbCr: convert each pixel through a concrete
	// color.YCbCr, exactly what NRGBAModel.Convert(img.At(x, y)) gives for
	// an opaque color, without an interface value per pixel.
	if yc, ok := img.(*image.YCbCr); ok {
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				yi, ci := yc.YOffset(x, y), yc.COffset(x, y)
				r, g, bl, _ := color.YCbCr{Y: yc.Y[yi], Cb: yc.Cb[ci], Cr: yc.Cr[ci]}.RGBA()
				i += putPixel(dst[i:], color.NRGBA{uint8(r >> 8), uint8(g >> 8), uint8(bl >> 8), 255}, c)
			}
		}
		return
	}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			// Non-premultiplied, as Pillow stores RGBA; alpha is dropped.
			p := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
			i += putPixel(dst[i:], p, c)
		}
	}
}

// putPixel writes p as c values in [0, 255] and returns c.
func putPixel(dst []float32, p color.NRGBA, c int) int {
	switch c {
	case 1:
		l := (uint32(p.R)*19595 + uint32(p.G)*38470 + uint32(p.B)*7471 + 0x8000) >> 16
		dst[0] = float32(l)
	case 4:
		dst[0], dst[1], dst[2], dst[3] = float32(p.R), float32(p.G), float32(p.B), float32(p.A)
	default:
		dst[0], dst[1], dst[2] = float32(p.R), float32(p.G), float32(p.B)
	}
	return c
}

// resizeBilinear resizes an ih x iw x c image to oh x ow x c the way
// TensorFlow's ResizeBilinear kernel does with half_pixel_centers (what
// tf.image.resize uses for "bilinear" without antialiasing), in float32 with
// the same order of operations. The explicit float32 conversions keep the
// compiler from fusing multiply-adds, which would change the rounding.
func resizeBilinear(src []float32, ih, iw, c, oh, ow int) []float32 {
	type interp struct {
		lo, hi int
		lerp   float32
	}
	weights := func(out, in int) []interp {
		scale := float32(in) / float32(out)
		ws := make([]interp, out)
		for i := range ws {
			v := float32(float32(float32(i)+0.5)*scale) - 0.5
			f := float32(math.Floor(float64(v)))
			ws[i] = interp{
				lo:   max(int(f), 0),
				hi:   min(int(math.Ceil(float64(v))), in-1),
				lerp: v - f,
			}
		}
		return ws
	}
	ys, xs := weights(oh, ih), weights(ow, iw)
	dst := make([]float32, oh*ow*c)
	for oy, y := range ys {
		top, bot := src[y.lo*iw*c:], src[y.hi*iw*c:]
		for ox, x := range xs {
			o := (oy*ow + ox) * c
			for ch := range c {
				tl, tr := top[x.lo*c+ch], top[x.hi*c+ch]
				bl, br := bot[x.lo*c+ch], bot[x.hi*c+ch]
				t := tl + float32((tr-tl)*x.lerp)
				b := bl + float32((br-bl)*x.lerp)
				dst[o+ch] = t + float32((b-t)*y.lerp)
			}
		}
	}
	return dst
}

// Preprocessing holds the constants of keras.applications'
// preprocess_input for one mode. Output channel c of a pixel is
//
//	(in[Perm[c]] / Div - Mean[c]) / Std[c]
//
// in float32, in that order:
//   - "caffe" (VGG16's Keras weights): RGB to BGR, then minus the ImageNet
//     means in BGR order, with no scaling (Div and Std are 1);
//   - "torch" (torchvision's weights, which convc weights converts):
//     x/255, then minus mean [0.485, 0.456, 0.406] and divided by std
//     [0.229, 0.224, 0.225];
//   - "tf": x/127.5 - 1.
//
// Its backward pass is din[Perm[c]] = dz[c] / Std[c] / Div.
type Preprocessing struct {
	Perm      [3]int
	Div       float32
	Mean, Std [3]float32
}

// PreprocessingOf returns the constants of a PreprocessInput mode.
func PreprocessingOf(mode string) (Preprocessing, bool) {
	switch mode {
	case "caffe":
		return Preprocessing{Perm: [3]int{2, 1, 0}, Div: 1, Mean: [3]float32{103.939, 116.779, 123.68}, Std: [3]float32{1, 1, 1}}, true
	case "torch":
		return Preprocessing{Perm: [3]int{0, 1, 2}, Div: 255, Mean: [3]float32{0.485, 0.456, 0.406}, Std: [3]float32{0.229, 0.224, 0.225}}, true
	case "tf":
		return Preprocessing{Perm: [3]int{0, 1, 2}, Div: 127.5, Mean: [3]float32{1, 1, 1}, Std: [3]float32{1, 1, 1}}, true
	}
	return Preprocessing{}, false
}

// imageFloats converts a decoded image to h x w x c floats in [0, 255],
// resized bilinearly as LoadImageFile does, and multiplied by scale.
func imageFloats(img image.Image, h, w, c int, scale float32) []float32 {
	b := img.Bounds()
	sh, sw := b.Dy(), b.Dx()
	src := make([]float32, sh*sw*c)
	toFloat(src, img, c)
	if sh != h || sw != w {
		src = resizeBilinear(src, sh, sw, c, h, w)
	}
	if scale != 1 {
		for i := range src {
			src[i] *= scale
		}
	}
	return src
}

// ImageInput turns an image into a network's input as the trainer's
// predict does with an image file: converted to the input's channels,
// resized to its height and width, and scaled as the spec's data source
// scales its samples (divided by 255 for mnist(), left in [0, 255] for
// image_directory(), whose models rescale themselves). It returns nil for
// a network whose input is not an image, or an empty image.
func ImageInput(spec *Spec, img image.Image) []float32 {
	in := spec.Layers[0].Out
	if len(in) != 3 || img == nil || img.Bounds().Empty() || (in[2] != 1 && in[2] != 3 && in[2] != 4) {
		return nil
	}
	x := imageFloats(img, in[0], in[1], in[2], 1)
	if spec.dividesPixels() {
		for j := range x {
			x[j] /= 255
		}
	}
	return x
}

// dividesPixels reports whether the spec's data source divides pixels by
// 255, as mnist() does (listing 8-3: float32(p) / 255); image_directory()
// leaves them in [0, 255] for the model's Rescaling layer.
func (s *Spec) dividesPixels() bool { return s.Data == "mnist" || s.Data == "" }

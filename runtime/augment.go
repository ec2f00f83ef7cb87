package runtime

import "math"

// This file holds the random layers (Dropout, RandomFlip, RandomRotation,
// RandomZoom). Generated code calls these same functions, so a seed gives
// bit-identical masks and transforms in generated and reference code.
//
// Every random layer with index li in Spec.Layers draws from its own
// generator, NewRNG(Derive(seed, uint64(li))), where seed is the value
// passed to Worker.Forward for the sample. The draws are described on each
// function.

// DropoutScale returns the factor by which Dropout multiplies the units it
// keeps during training: 1/(1-rate), computed in float64 and rounded to
// float32. It returns 0 when rate >= 1, when every unit is dropped.
func DropoutScale(rate float32) float32 {
	if rate >= 1 {
		return 0
	}
	return float32(1 / (1 - float64(rate)))
}

// DropoutMask fills mask for one sample of a Dropout layer: for each
// element i in order it draws u = rng.Float32() and sets mask[i] to
// DropoutScale(rate) when u >= rate (the unit is kept) and to 0 otherwise.
// The layer's output is in[i]*mask[i], and its input gradient dOut[i]*mask[i].
func DropoutMask(rng *RNG, rate float32, mask []float32) {
	scale := DropoutScale(rate)
	for i := range mask {
		if rng.Float32() >= rate {
			mask[i] = scale
		} else {
			mask[i] = 0
		}
	}
}

// AugmentState holds what RandomFlip, RandomRotation or RandomZoom drew
// for one sample, so that the backward pass can apply the transpose of the
// same transform.
type AugmentState struct {
	// FlipH and FlipV say whether RandomFlip flipped the sample left-right
	// and up-down.
	FlipH, FlipV bool
	// Transform maps an output pixel (x, y) = (column, row) to the input
	// point (T[0]x + T[1]y + T[2], T[3]x + T[4]y + T[5]), as the first six
	// entries of a TensorFlow projective transform (the last two are zero).
	// It is used by RandomRotation and RandomZoom.
	Transform [6]float32
	// Angle is RandomRotation's angle in radians and ZoomH, ZoomW are
	// RandomZoom's scales; they are kept for tests and messages.
	Angle, ZoomH, ZoomW float32
}

// twoPi is 2*pi rounded to float32.
const twoPi = float32(2 * math.Pi)

// uniform returns lo + (hi-lo)*rng.Float32(), as tf.random.uniform does,
// in float32.
func uniform(rng *RNG, lo, hi float32) float32 {
	return lo + float32((hi-lo)*rng.Float32())
}

// DrawAugment draws the random transform of one sample for the layer l,
// which is a RandomFlip, RandomRotation or RandomZoom, following Keras:
//
//   - RandomFlip: if l.FlipH, flip left-right when rng.Float32() < 0.5; then,
//     if l.FlipV, flip up-down when the next rng.Float32() < 0.5.
//   - RandomRotation: angle = lo + (hi-lo)*rng.Float32() with
//     lo = l.Factor[0]*2pi and hi = l.Factor[1]*2pi (float32), and the
//     rotation is about the image center as in Keras's get_rotation_matrix:
//     x' = cos*x - sin*y + ((W-1) - (cos*(W-1) - sin*(H-1)))/2,
//     y' = sin*x + cos*y + ((H-1) - (sin*(W-1) + cos*(H-1)))/2.
//   - RandomZoom: zh = (1+l.Factor[0]) + (l.Factor[1]-l.Factor[0])*rng.Float32();
//     when l.WidthFactor equals l.Factor (width_factor=None; see below), the
//     width zoom is zh, otherwise zw is drawn next from
//     (1+l.WidthFactor[0], 1+l.WidthFactor[1]). As in Keras's get_zoom_matrix,
//     x' = zw*x + (W-1)/2*(1-zw) and y' = zh*y + (H-1)/2*(1-zh), so a scale
//     above 1 zooms out.
//
// The checked model stores WidthFactor = Factor when the spec leaves
// width_factor as None, so an explicit width_factor equal to height_factor
// is also treated as None (one shared draw, aspect kept) where Keras would
// draw twice.
func DrawAugment(l *Layer, rng *RNG) AugmentState {
	var st AugmentState
	h, w := float32(1), float32(1)
	if len(l.In) == 3 {
		h, w = float32(l.In[0]), float32(l.In[1])
	}
	switch l.Kind {
	case "RandomFlip":
		if l.FlipH {
			st.FlipH = rng.Float32() < 0.5
		}
		if l.FlipV {
			st.FlipV = rng.Float32() < 0.5
		}
	case "RandomRotation":
		a := uniform(rng, l.Factor[0]*twoPi, l.Factor[1]*twoPi)
		c := float32(math.Cos(float64(a)))
		s := float32(math.Sin(float64(a)))
		st.Angle = a
		st.Transform = [6]float32{
			c, -s, ((w - 1) - (float32(c*(w-1)) - float32(s*(h-1)))) / 2,
			s, c, ((h - 1) - (float32(s*(w-1)) + float32(c*(h-1)))) / 2,
		}
	case "RandomZoom":
		zh := uniform(rng, 1+l.Factor[0], 1+l.Factor[1])
		zw := zh
		if l.WidthFactor != l.Factor {
			zw = uniform(rng, 1+l.WidthFactor[0], 1+l.WidthFactor[1])
		}
		st.ZoomH, st.ZoomW = zh, zw
		st.Transform = [6]float32{
			zw, 0, float32((w-1)/2) * (1 - zw),
			0, zh, float32((h-1)/2) * (1 - zh),
		}
	}
	return st
}

// AugmentForward draws the layer's transform from rng (see DrawAugment),
// applies it to one sample in (l.In, HWC) and writes the result into out.
// It returns what it drew, for AugmentBackward. It does not allocate.
func AugmentForward(l *Layer, rng *RNG, in, out []float32) AugmentState {
	st := DrawAugment(l, rng)
	augmentApply(l, &st, in, out)
	return st
}

// AugmentBackward writes into dIn the gradient with respect to the input
// of the transform st, given the gradient dOut with respect to its output:
// the transpose of the sampling that AugmentForward applied. It overwrites
// dIn rather than adding to it.
func AugmentBackward(l *Layer, st *AugmentState, dOut, dIn []float32) {
	augmentApplyBackward(l, st, dOut, dIn)
}

// augmentTaps returns the input pixels (row*W + col, or -1 for the fill
// value) and weights that make output pixel (oy, ox). Rotation and zoom
// follow TensorFlow's ImageProjectiveTransformV3: map the point, fold it
// into the image with the fill mode, then interpolate, reading zero (Keras's
// default fill_value) outside the image.
func augmentTaps(l *Layer, st *AugmentState, h, w, oy, ox int) (idx [4]int, wt [4]float32, n int) {
	if l.Kind == "RandomFlip" {
		y, x := oy, ox
		if st.FlipH {
			x = w - 1 - x
		}
		if st.FlipV {
			y = h - 1 - y
		}
		idx[0], wt[0] = y*w+x, 1
		return idx, wt, 1
	}
	t := &st.Transform
	fx, fy := float32(ox), float32(oy)
	x := float32(t[0]*fx) + float32(t[1]*fy) + t[2]
	y := float32(t[3]*fx) + float32(t[4]*fy) + t[5]
	x = mapCoord(l.FillMode, x, w)
	y = mapCoord(l.FillMode, y, h)
	read := func(yy, xx float32) int {
		if 0 <= yy && yy < float32(h) && 0 <= xx && xx < float32(w) {
			return int(yy)*w + int(xx)
		}
		return -1
	}
	if l.Interpolation == "nearest" {
		idx[0], wt[0] = read(float32(math.Round(float64(y))), float32(math.Round(float64(x)))), 1
		return idx, wt, 1
	}
	y0 := float32(math.Floor(float64(y)))
	x0 := float32(math.Floor(float64(x)))
	y1, x1 := y0+1, x0+1
	idx = [4]int{read(y0, x0), read(y0, x1), read(y1, x0), read(y1, x1)}
	wt = [4]float32{
		float32((y1 - y) * (x1 - x)), float32((y1 - y) * (x - x0)),
		float32((y - y0) * (x1 - x)), float32((y - y0) * (x - x0)),
	}
	return idx, wt, 4
}

// mapCoord folds the coordinate c into [0, n-1] as TensorFlow's
// MapCoordinate does for each fill mode: "reflect" (d c b a | a b c d |
// d c b a), "wrap" (a b c d | a b c d | a b c d), "nearest" (a a a a |
// a b c d | d d d d); "constant" leaves c alone, and points outside the
// image then read the fill value.
func mapCoord(mode string, c float32, n int) float32 {
	ln := float32(n)
	switch mode {
	case "constant":
		return c
	case "wrap":
		if c < 0 {
			if n <= 1 {
				c = 0
			} else {
				sz := ln - 1
				c += ln * float32(int(-c/sz)+1)
			}
		} else if c > ln-1 {
			if n <= 1 {
				c = 0
			} else {
				sz := ln - 1
				c -= ln * float32(int(c/sz))
			}
		}
	case "nearest":
	default: // "reflect", Keras's default
		if c < 0 {
			if n <= 1 {
				c = 0
			} else {
				sz2 := 2 * ln
				if c < sz2 {
					c = float32(sz2*float32(int(-c/sz2))) + c
				}
				if c < -ln {
					c += sz2
				} else {
					c = -c - 1
				}
			}
		} else if c > ln-1 {
			if n <= 1 {
				c = 0
			} else {
				sz2 := 2 * ln
				c -= float32(sz2 * float32(int(c/sz2)))
				if c >= ln {
					c = sz2 - c - 1
				}
			}
		}
	}
	return min(max(c, 0), ln-1)
}

// augmentDims returns the height, width and channels of a random layer's
// sample, treating a vector as a 1 x n image with one channel.
func augmentDims(l *Layer) (h, w, c int) {
	if len(l.In) == 3 {
		return l.In[0], l.In[1], l.In[2]
	}
	return 1, prod(l.In), 1
}

// augmentApply applies the transform st to in and writes out.
func augmentApply[T float](l *Layer, st *AugmentState, in, out []T) {
	h, w, c := augmentDims(l)
	for oy := 0; oy < h; oy++ {
		for ox := 0; ox < w; ox++ {
			idx, wt, n := augmentTaps(l, st, h, w, oy, ox)
			o := out[(oy*w+ox)*c : (oy*w+ox+1)*c]
			for ch := range o {
				var s T
				for k := 0; k < n; k++ {
					if idx[k] >= 0 {
						s += T(wt[k]) * in[idx[k]*c+ch]
					}
				}
				o[ch] = s
			}
		}
	}
}

// augmentApplyBackward writes the transpose of augmentApply into dIn.
func augmentApplyBackward[T float](l *Layer, st *AugmentState, dOut, dIn []T) {
	h, w, c := augmentDims(l)
	clear(dIn[:h*w*c])
	for oy := 0; oy < h; oy++ {
		for ox := 0; ox < w; ox++ {
			idx, wt, n := augmentTaps(l, st, h, w, oy, ox)
			d := dOut[(oy*w+ox)*c : (oy*w+ox+1)*c]
			for k := 0; k < n; k++ {
				if idx[k] < 0 {
					continue
				}
				di := dIn[idx[k]*c : (idx[k]+1)*c]
				for ch := range d {
					di[ch] += T(wt[k]) * d[ch]
				}
			}
		}
	}
}

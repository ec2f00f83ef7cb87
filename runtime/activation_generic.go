//go:build !goexperiment.simd || !amd64

package runtime

// tanhVector does nothing without the SIMD build: Tanh and Sigmoid run
// their scalar loop.
func tanhVector(dst, src []float32, sigmoid bool) int { return 0 }

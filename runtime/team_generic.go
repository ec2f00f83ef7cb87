//go:build !goexperiment.simd || !amd64

package runtime

// team is empty without the SIMD build, which alone splits a layer's work.
type team struct{}

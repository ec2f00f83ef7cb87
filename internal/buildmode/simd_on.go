//go:build goexperiment.simd

package buildmode

// SIMD is true when the build uses GOEXPERIMENT=simd.
const SIMD = true

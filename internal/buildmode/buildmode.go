// Package buildmode tells tests which of CI's two passes they run in, so
// that a test whose result does not depend on the build mode (it runs the
// reference interpreter or PyTorch, or builds generated code in both modes
// itself) runs once, in the portable pass.
package buildmode

import "testing"

// SkipInSIMDPass skips t when the test binary is built with
// GOEXPERIMENT=simd: the portable pass runs it, and it covers both modes.
func SkipInSIMDPass(t *testing.T) {
	t.Helper()
	if SIMD {
		t.Skip("does not depend on the build mode; the portable pass of go test runs it")
	}
}

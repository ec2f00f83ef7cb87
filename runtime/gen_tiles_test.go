package runtime

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestTileKernelsUpToDate runs gen_tiles.go in a temporary folder and
// compares its output with the committed convtile_kernels_simd.go.
func TestTileKernelsUpToDate(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	src, err := os.ReadFile("gen_tiles.go")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "gen_tiles.go"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "run", "gen_tiles.go")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=", "GO111MODULE=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go run gen_tiles.go: %v\n%s", err, out)
	}
	got, err := os.ReadFile(filepath.Join(dir, "convtile_kernels_simd.go"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("convtile_kernels_simd.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("convtile_kernels_simd.go is stale: run go generate ./runtime")
	}
}

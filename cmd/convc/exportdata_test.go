package main

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestExportData(t *testing.T) {
	dir := t.TempDir()
	spec := filepath.Join(dir, "tiny.cnn")
	os.WriteFile(spec, []byte(`model tiny {
    Input(shape=(8, 8, 1))
    Rescaling(1./255)
    Flatten()
    Dense(2, activation="softmax")
}
compile(optimizer="adam", loss="sparse_categorical_crossentropy")
fit(data=image_directory("nowhere", image_size=(8, 8), color_mode="grayscale"))
`), 0o644)
	data := filepath.Join(dir, "images")
	var buf bytes.Buffer
	png.Encode(&buf, image.NewGray(image.Rect(0, 0, 5, 7)))
	for _, split := range []string{"train", "test"} {
		for _, class := range []string{"a", "b"} {
			os.MkdirAll(filepath.Join(data, split, class), 0o755)
			os.WriteFile(filepath.Join(data, split, class, "1.png"), buf.Bytes(), 0o644)
		}
	}
	out := filepath.Join(dir, "npy")
	// Flags may follow the spec.
	code, stdoutText, errOut := runCmd(t, "export-data", spec, "-data", data, "-o", out)
	if code != 0 || errOut != "" || !strings.Contains(stdoutText, "train: 2 images (1 a, 1 b) -> "+filepath.Join(out, "train_x.npy")+" (2, 8, 8, 1) float32, train_y.npy int64") {
		t.Errorf("export-data: exit %d, stderr %q, stdout:\n%s", code, errOut, stdoutText)
	}
	for _, f := range []string{"train_x.npy", "train_y.npy", "test_x.npy", "test_y.npy", "classes.json"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	if code, _, errOut := runCmd(t, "export-data", spec, "-o", out); code != 1 || !strings.Contains(errOut, "nowhere: no such data folder") {
		t.Errorf("export-data without -data: exit %d, stderr %q", code, errOut)
	}
	if code, _, _ := runCmd(t, "export-data", spec); code != 2 {
		t.Errorf("export-data without -o: exit %d, want 2", code)
	}
}

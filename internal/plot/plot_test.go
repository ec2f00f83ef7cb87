package plot

import (
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/convc/convc/runtime"
)

// bookHistory is an overfitting run like figure 8-9's: training accuracy
// climbs to 1 while validation loss turns up after epoch 10.
func bookHistory(epochs int) *runtime.History {
	h := &runtime.History{}
	for e := 1; e <= epochs; e++ {
		x := float64(e)
		h.Add(e, map[string]float64{
			"accuracy":     1 - 0.5*math.Exp(-x/6),
			"loss":         0.7 * math.Exp(-x/6),
			"val_accuracy": 0.72 - 0.22*math.Exp(-x/4),
			"val_loss":     0.55 + 0.002*(x-10)*(x-10),
		})
	}
	return h
}

func TestCurves(t *testing.T) {
	out := filepath.Join(t.TempDir(), "curves.png")
	if err := Curves(bookHistory(30), "cats_vs_dogs", out); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() < 800 || b.Dy() < 300 || st.Size() < 20000 {
		t.Errorf("PNG is %v, %d bytes", b, st.Size())
	}
	if os.Getenv("CONVC_KEEP_PLOT") != "" {
		data, _ := os.ReadFile(out)
		os.WriteFile(os.Getenv("CONVC_KEEP_PLOT"), data, 0o644)
	}
}

func TestCurvesWithoutValidation(t *testing.T) {
	h := &runtime.History{}
	h.Add(1, map[string]float64{"accuracy": 0.5, "loss": 0.7})
	h.Add(2, map[string]float64{"accuracy": 0.6, "loss": 0.6})
	if err := Curves(h, "", filepath.Join(t.TempDir(), "c.png")); err != nil {
		t.Fatal(err)
	}
	if err := Curves(&runtime.History{}, "", filepath.Join(t.TempDir(), "c.png")); err == nil || !strings.Contains(err.Error(), "no epochs") {
		t.Errorf("empty history: %v", err)
	}
	h = &runtime.History{}
	h.Add(1, map[string]float64{"mae": 0.5})
	if err := Curves(h, "", filepath.Join(t.TempDir(), "c.png")); err == nil || !strings.Contains(err.Error(), "neither accuracy nor val_accuracy") {
		t.Errorf("no accuracy: %v", err)
	}
}

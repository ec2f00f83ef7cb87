package runtime

import (
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestHistoryRoundTrip(t *testing.T) {
	var h History
	h.Add(1, map[string]float64{"loss": 0.23541, "accuracy": 0.9279166460037231})
	h.Add(2, map[string]float64{"loss": 1e-5, "accuracy": 1, "val_loss": math.NaN(), "val_accuracy": 0.5})
	h.Add(3, map[string]float64{"loss": 2e16, "accuracy": 0.25})
	if want := []string{"epoch", "accuracy", "loss", "val_accuracy", "val_loss"}; !reflect.DeepEqual(h.Metrics, want) {
		t.Fatalf("Metrics = %v, want %v", h.Metrics, want)
	}
	path := filepath.Join(t.TempDir(), "h.csv")
	if err := h.WriteCSV(path); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	want := "epoch,accuracy,loss,val_accuracy,val_loss\n" +
		"1,0.9279166460037231,0.23541,nan,nan\n" +
		"2,1.0,1e-05,0.5,nan\n" +
		"3,0.25,2e+16,nan,nan\n"
	if string(b) != want {
		t.Errorf("CSV:\n%s\nwant:\n%s", b, want)
	}
	got, err := ReadHistoryCSV(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Metrics, h.Metrics) || len(got.Rows) != 3 {
		t.Fatalf("read %v", got)
	}
	for i := range h.Rows {
		for j := range h.Rows[i] {
			a, b := got.Rows[i][j], h.Rows[i][j]
			if a != b && !(math.IsNaN(a) && math.IsNaN(b)) {
				t.Errorf("row %d col %d: read %v, wrote %v", i, j, a, b)
			}
		}
	}
	if c := got.Column("accuracy"); !reflect.DeepEqual(c, []float64{0.9279166460037231, 1, 0.25}) {
		t.Errorf("Column(accuracy) = %v", c)
	}
	if got.Column("nope") != nil {
		t.Error("Column of a missing metric is not nil")
	}
}

func TestReadHistoryKerasCSVLogger(t *testing.T) {
	// Keras writes \r\n line ends, 0-based epochs and NA for missing values.
	path := filepath.Join(t.TempDir(), "keras.csv")
	os.WriteFile(path, []byte("epoch,accuracy,loss\r\n0,0.9,0.3\r\n1,NA,0.1\r\n"), 0o644)
	h, err := ReadHistoryCSV(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Rows) != 2 || h.Rows[1][0] != 1 || !math.IsNaN(h.Rows[1][1]) || h.Rows[1][2] != 0.1 {
		t.Errorf("read %v", h.Rows)
	}
}

func TestReadHistoryBadInput(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ name, body, want string }{
		{"empty", "", ": the file is empty; a history CSV starts with a header line"},
		{"not history", "loss,epoch\n1,2\n", `:1: the first column is "loss", want "epoch"`},
		{"duplicate", "epoch,loss,loss\n", `:1: columns 2 and 3 are both named "loss"`},
		{"unnamed", "epoch,,loss\n", `:1: column 2 has no name`},
		{"short row", "epoch,loss\n1,0.5\n2\n", ":3: this line has a different number of fields than the header"},
		{"bad number", "epoch,loss\n1,0.5\n2,0.4x\n", `:3: column loss: "0.4x" is not a number`},
		{"bad quote", "epoch,loss\n1,\"0.5\n", ":2: extraneous or missing \" in quoted-field"},
	} {
		path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_")+".csv")
		os.WriteFile(path, []byte(c.body), 0o644)
		_, err := ReadHistoryCSV(path)
		if err == nil || !strings.HasPrefix(err.Error(), path+c.want) {
			t.Errorf("%s: error %v\nwant prefix %s%s", c.name, err, path, c.want)
		}
	}
	if _, err := ReadHistoryCSV(filepath.Join(dir, "missing.csv")); err == nil || !strings.Contains(err.Error(), "missing.csv") {
		t.Errorf("missing file: %v", err)
	}
	var h History
	h.Add(1, map[string]float64{"loss": 1})
	if err := h.WriteCSV(filepath.Join(dir, "no", "h.csv")); err == nil || !strings.Contains(err.Error(), "no/h.csv") {
		t.Errorf("unwritable path: %v", err)
	}
}

func TestPythonFloat(t *testing.T) {
	for v, want := range map[float64]string{
		0: "0.0", 1: "1.0", -2.5: "-2.5", 0.1: "0.1", 1e-4: "0.0001", 9.5e-5: "9.5e-05",
		123456: "123456.0", 1e16: "1e+16", 0.15023456811904906: "0.15023456811904906",
		math.Inf(-1): "-inf",
	} {
		if got := pythonFloat(v); got != want {
			t.Errorf("pythonFloat(%v) = %q, want %q", v, got, want)
		}
	}
}

package dsl

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzCheck runs the parser, the checker and the summary on arbitrary
// input, seeded with the specs and the golden cases. It must never panic,
// must return either a model or errors, and must give every error a
// position in the file.
func FuzzCheck(f *testing.F) {
	specs, _ := filepath.Glob("../specs/*.cnn")
	for _, p := range specs {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	goldens, _ := filepath.Glob("testdata/*.txtar")
	for _, p := range goldens {
		if b, err := os.ReadFile(p); err == nil {
			if spec, ok := parseTxtar(b).get("spec.cnn"); ok {
				f.Add(spec)
			}
		}
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		m, errs := Check("f.cnn", src)
		if (m == nil) == (len(errs) == 0) {
			t.Fatalf("model %v with %d errors", m != nil, len(errs))
		}
		for _, e := range errs {
			if e.Pos.File != "f.cnn" || e.Pos.Line < 1 || e.Pos.Col < 1 || e.Msg == "" {
				t.Fatalf("bad error %q at %+v", e.Msg, e.Pos)
			}
		}
		if m != nil {
			s := Summary(m, true)
			if !strings.HasPrefix(s, "Model: ") {
				t.Fatalf("summary %q", s)
			}
			for _, l := range m.Layers {
				if l.Name == "" || !isIdent(l.Name) || len(l.Out) == 0 {
					t.Fatalf("bad layer %+v", l)
				}
			}
		}
	})
}

// TestLargeSpec checks that the checker has no quadratic path: a 1 MB
// spec, valid or with an error in every layer, is checked in well under
// half a second. The bound is generous, and the best of three runs
// counts, so that a busy machine does not fail it; BenchmarkCheck1MB and BenchmarkCheck1MBErrors measure the
// speed (tens of milliseconds).
func TestLargeSpec(t *testing.T) {
	if testing.Short() {
		t.Skip("large spec")
	}
	for _, bad := range []bool{false, true} {
		src := largeSpec(1<<20-100, bad)
		var m *Model
		var errs ErrorList
		d := time.Hour
		for range 3 {
			start := time.Now()
			m, errs = Check("big.cnn", src)
			// A valid spec of 1 MB is over the layer limit, and gets only
			// that error, after every layer was checked.
			if !bad && (len(errs) != 1 || !strings.Contains(errs[0].Msg, "takes at most 128")) || bad && len(errs) < 2 {
				t.Fatalf("bad=%v: %d errors: %v", bad, len(errs), errs.Err())
			}
			_ = errs.Error()
			d = min(d, time.Since(start))
		}
		t.Logf("bad=%v: %d bytes, %d layers, %d errors in %v", bad, len(src), len(m.layersOrNil()), len(errs), d)
		if d > 500*time.Millisecond {
			t.Errorf("bad=%v: checking %d bytes took %v", bad, len(src), d)
		}
	}
}

func (m *Model) layersOrNil() []Layer {
	if m == nil {
		return nil
	}
	return m.Layers
}

// largeSpec builds a spec of about n bytes of Dense layers; bad ones have
// a misspelled activation in each.
func largeSpec(n int, bad bool) []byte {
	var b strings.Builder
	b.WriteString("model big {\n    Input(shape=(8,))\n")
	act := "relu"
	if bad {
		act = "rleu"
	}
	for b.Len() < n {
		b.WriteString(`    Dense(8, activation="` + act + `", use_bias=True)  # a layer` + "\n")
	}
	b.WriteString("}\n")
	return []byte(b.String())
}

func BenchmarkCheck1MB(b *testing.B) {
	src := largeSpec(1<<20, false)
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		if _, errs := Check("big.cnn", src); len(errs) > 0 {
			b.Fatal(errs)
		}
	}
}

func BenchmarkCheck1MBErrors(b *testing.B) {
	src := largeSpec(1<<20, true)
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		if _, errs := Check("big.cnn", src); len(errs) == 0 {
			b.Fatal("no errors")
		} else {
			_ = errs.Error()
		}
	}
}

func BenchmarkCheckMNIST(b *testing.B) {
	src, err := os.ReadFile("../specs/mnist.cnn")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		Check("mnist.cnn", src)
	}
}

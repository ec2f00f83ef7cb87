package dsl

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the testdata/*.txtar goldens")

// txtar is a minimal reader and writer of the txtar format
// (golang.org/x/tools/txtar), kept here to avoid a dependency.
type txtar struct {
	comment []byte
	files   []txtarFile
}

type txtarFile struct {
	name string
	data []byte
}

func parseTxtar(data []byte) *txtar {
	a := &txtar{}
	var cur *txtarFile
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i+1], data[i+1:]
		} else {
			data = nil
		}
		s := strings.TrimRight(string(line), "\n")
		if strings.HasPrefix(s, "-- ") && strings.HasSuffix(s, " --") && len(s) > 6 {
			a.files = append(a.files, txtarFile{name: s[3 : len(s)-3]})
			cur = &a.files[len(a.files)-1]
			continue
		}
		if cur == nil {
			a.comment = append(a.comment, line...)
		} else {
			cur.data = append(cur.data, line...)
		}
	}
	return a
}

func (a *txtar) format() []byte {
	var b bytes.Buffer
	b.Write(a.comment)
	for _, f := range a.files {
		b.WriteString("-- " + f.name + " --\n")
		b.Write(f.data)
		if len(f.data) > 0 && f.data[len(f.data)-1] != '\n' {
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

func (a *txtar) get(name string) ([]byte, bool) {
	for _, f := range a.files {
		if f.name == name {
			return f.data, true
		}
	}
	return nil, false
}

// TestGoldens checks every testdata/*.txtar case: the spec.cnn section is
// checked as a file named spec.cnn, and the result must equal the errors
// section (one error per line, all of them) or the summary section (and
// summary-v, when present, for the verbose summary).
func TestGoldens(t *testing.T) {
	paths, err := filepath.Glob("testdata/*.txtar")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no goldens: %v", err)
	}
	for _, path := range paths {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txtar"), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			a := parseTxtar(data)
			spec, ok := a.get("spec.cnn")
			if !ok {
				t.Fatalf("%s has no spec.cnn section", path)
			}
			_, verbose := a.get("summary-v")
			got := &txtar{comment: a.comment, files: []txtarFile{{name: "spec.cnn", data: spec}}}
			m, errs := Check("spec.cnn", spec)
			if len(errs) > 0 {
				var b strings.Builder
				for _, e := range errs {
					b.WriteString(e.Error() + "\n")
				}
				got.files = append(got.files, txtarFile{name: "errors", data: []byte(b.String())})
			} else {
				got.files = append(got.files, txtarFile{name: "summary", data: []byte(Summary(m, false))})
				if verbose {
					got.files = append(got.files, txtarFile{name: "summary-v", data: []byte(Summary(m, true))})
				}
			}
			if *update {
				if err := os.WriteFile(path, got.format(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			for _, f := range got.files[1:] {
				want, ok := a.get(f.name)
				if !ok {
					t.Errorf("got a %s section the golden lacks:\n%s", f.name, f.data)
					continue
				}
				if !bytes.Equal(want, f.data) {
					t.Errorf("%s differs\ngot:\n%s\nwant:\n%s", f.name, f.data, want)
				}
			}
			if len(a.files) != len(got.files) {
				t.Errorf("the golden has sections %v; want %d sections (run go test -update)", names(a), len(got.files))
			}
		})
	}
}

func names(a *txtar) []string {
	var s []string
	for _, f := range a.files {
		s = append(s, f.name)
	}
	return s
}

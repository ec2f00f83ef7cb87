package split

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func touch(t *testing.T, path string) {
	t.Helper()
	os.MkdirAll(filepath.Dir(path), 0o755)
	if err := os.WriteFile(path, []byte(filepath.Base(path)), 0o644); err != nil {
		t.Fatal(err)
	}
}

func names(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	return out
}

func TestSplitListing86(t *testing.T) {
	from, to := t.TempDir(), filepath.Join(t.TempDir(), "small")
	for i := range 6 {
		touch(t, filepath.Join(from, "cat."+itoa(i)+".jpg"))
		if i != 4 {
			touch(t, filepath.Join(from, "dog."+itoa(i)+".jpg"))
		}
	}
	touch(t, filepath.Join(from, "readme.txt"))
	subsets := []Subset{{"train", 0, 2}, {"validation", 2, 3}, {"test", 3, 5}}
	r, err := Split(from, to, subsets)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"test/cat/cat.3.jpg", "test/cat/cat.4.jpg", "test/dog/dog.3.jpg",
		"train/cat/cat.0.jpg", "train/cat/cat.1.jpg", "train/dog/dog.0.jpg", "train/dog/dog.1.jpg",
		"validation/cat/cat.2.jpg", "validation/dog/dog.2.jpg"}
	if got := names(t, to); !slices.Equal(got, want) {
		t.Errorf("files %v\nwant %v", got, want)
	}
	if b, _ := os.ReadFile(filepath.Join(to, "test", "cat", "cat.4.jpg")); string(b) != "cat.4.jpg" {
		t.Errorf("content %q", b)
	}
	if len(r.Unmatched) != 1 || !strings.HasSuffix(r.Unmatched[0], "readme.txt") || !slices.Equal(r.Missing, []string{"dog.4"}) {
		t.Errorf("unmatched %v, missing %v", r.Unmatched, r.Missing)
	}
	if r.Copied["test"]["cat"] != 2 || r.Copied["test"]["dog"] != 1 {
		t.Errorf("copied %v", r.Copied)
	}
	// The target is now not empty.
	if _, err := Split(from, to, subsets); err == nil || !strings.Contains(err.Error(), "is not empty") {
		t.Errorf("second split: %v", err)
	}
}

func TestSplitClassFolders(t *testing.T) {
	from, to := t.TempDir(), filepath.Join(t.TempDir(), "out")
	for i := range 3 {
		touch(t, filepath.Join(from, "circle", itoa(i)+".png"))
		touch(t, filepath.Join(from, "square", "sq."+itoa(i)+".png"))
	}
	touch(t, filepath.Join(from, "square", "notes.png"))
	r, err := Split(from, to, []Subset{{"train", 0, 2}, {"test", 2, 3}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"test/circle/2.png", "test/square/sq.2.png", "train/circle/0.png", "train/circle/1.png", "train/square/sq.0.png", "train/square/sq.1.png"}
	if got := names(t, to); !slices.Equal(got, want) {
		t.Errorf("files %v\nwant %v", got, want)
	}
	if len(r.Unmatched) != 1 || !strings.HasSuffix(r.Unmatched[0], "notes.png") {
		t.Errorf("unmatched %v", r.Unmatched)
	}
}

func TestSplitErrors(t *testing.T) {
	from := t.TempDir()
	touch(t, filepath.Join(from, "cat.0.jpg"))
	for _, c := range []struct {
		from    string
		subsets []Subset
		want    string
	}{
		{from, []Subset{{"train", 0, 10}, {"test", 5, 15}}, "overlap"},
		{from, []Subset{{"train", 0, 10}, {"train", 10, 15}}, "given twice"},
		{from, nil, "no subsets"},
		{filepath.Join(from, "nope"), []Subset{{"train", 0, 1}}, "cannot read the source folder"},
		{t.TempDir(), []Subset{{"train", 0, 1}}, "has no files named <class>.<index>.<ext>"},
	} {
		if _, err := Split(c.from, filepath.Join(t.TempDir(), "x"), c.subsets); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q", c.subsets, err, c.want)
		}
	}
	for _, s := range []string{"train", "train=5", "train=5:2", "=0:1", "a/b=0:1", "train=x:2"} {
		if _, err := ParseSubset(s); err == nil {
			t.Errorf("ParseSubset(%q) gave no error", s)
		}
	}
	if s, err := ParseSubset("validation=1000:1500"); err != nil || s != (Subset{"validation", 1000, 1500}) {
		t.Errorf("ParseSubset: %v %v", s, err)
	}
}

func itoa(i int) string { return string(rune('0' + i)) }

// TestSplitHostileNames gives split dot names, which would make class ".."
// and copy outside the subset folder, a hidden class folder, and a range
// far larger than the source: the names are left out as unmatched,
// nothing is written outside the target, and the missing files are
// counted without being listed one by one.
func TestSplitHostileNames(t *testing.T) {
	from, root := t.TempDir(), t.TempDir()
	to := filepath.Join(root, "small")
	touch(t, filepath.Join(from, "cat.0.jpg"))
	touch(t, filepath.Join(from, "...5.jpg"))
	touch(t, filepath.Join(from, "..0.jpg"))
	touch(t, filepath.Join(from, ".hidden.1.jpg"))
	r, err := Split(from, to, []Subset{{"train", 0, 100_000_000}})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(t, root); !slices.Equal(got, []string{"small/train/cat/cat.0.jpg"}) {
		t.Errorf("files %v", got)
	}
	if len(r.Unmatched) != 3 {
		t.Errorf("unmatched %v; want the three dot names", r.Unmatched)
	}
	if r.MissingCount != 100_000_000-1 || len(r.Missing) != maxMissing {
		t.Errorf("missing %d, listed %d", r.MissingCount, len(r.Missing))
	}
}

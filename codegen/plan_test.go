package codegen

import (
	"strings"
	"testing"
)

func TestParseCache(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Cache
	}{
		{"default", DefaultCache},
		{"48K,1M", Cache{L1: 48 << 10, L2: 1 << 20}},
		{"32k, 512k", Cache{L1: 32 << 10, L2: 512 << 10}},
		{"49152,1048576", Cache{L1: 48 << 10, L2: 1 << 20}},
	} {
		got, err := ParseCache(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseCache(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
	for _, in := range []string{"48K", "1M,48K", "0,512K", "1K,512K", "x,y", "48K,2G", "-1,512K", "48K,"} {
		if _, err := ParseCache(in); err == nil || !strings.Contains(err.Error(), "-cache") {
			t.Errorf("ParseCache(%q) = nil error or one that does not name the flag: %v", in, err)
		}
	}
	if c := DetectCache(); c.L1 < 4<<10 || c.L2 < c.L1 {
		t.Errorf("DetectCache() = %v, want 4K <= L1 <= L2", c)
	}
}

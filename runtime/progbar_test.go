package runtime

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeClock is a clock that tests advance by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time             { return c.t }
func (c *fakeClock) advance(d time.Duration)    { c.t = c.t.Add(d) }
func newFakeClock() *fakeClock                  { return &fakeClock{time.Unix(1e9, 0)} }
func runningMetrics(loss, acc float64) []Metric { return []Metric{{"loss", loss}, {"accuracy", acc}} }

func TestProgbarNonInteractive(t *testing.T) {
	var out strings.Builder
	clk := newFakeClock()
	p := newProgbar(&out, 469, false, clk.now)
	for s := 1; s <= 469; s++ {
		clk.advance(25 * time.Millisecond)
		if s == 1 {
			clk.advance(500 * time.Millisecond) // the first step is slow
		}
		if s < 469 {
			p.Update(s, runningMetrics(1, 0.5))
		}
	}
	p.Done(runningMetrics(0.15021, 0.95404))
	p.Update(3, nil) // ignored after Done
	p.Done(nil)
	want := "469/469 [==============================] - 12s 25ms/step - loss: 0.1502 - accuracy: 0.9540\n"
	if out.String() != want {
		t.Errorf("got  %q\nwant %q", out.String(), want)
	}
}

func TestProgbarInteractive(t *testing.T) {
	var out strings.Builder
	clk := newFakeClock()
	p := newProgbar(&out, 10, true, clk.now)
	clk.advance(2 * time.Second)
	p.Update(1, []Metric{{"loss", 2.5}, {"val_loss_long_name", 1}})
	clk.advance(10 * time.Millisecond)
	p.Update(2, runningMetrics(2, 0.25)) // within 50 ms: not drawn
	clk.advance(290 * time.Millisecond)
	p.Update(3, runningMetrics(0.0005, 0.5))
	clk.advance(4 * time.Second)
	p.Done(runningMetrics(0.25, 1))
	lines := strings.Split(out.String(), "\r")
	want := []string{
		"",
		" 1/10 [==>...........................] - ETA: 18s - loss: 2.5000 - val_loss_long_name: 1.0000",
		" 3/10 [========>.....................] - ETA: 1s - loss: 5.0000e-04 - accuracy: 0.5000" + strings.Repeat(" ", 93-86),
		"10/10 [==============================] - 6s 478ms/step - loss: 0.2500 - accuracy: 1.0000\n",
	}
	if len(lines) != len(want) {
		t.Fatalf("got %d redraws: %q", len(lines)-1, out.String())
	}
	for i := range want {
		if lines[i] != want[i] {
			t.Errorf("line %d:\n got %q\nwant %q", i, lines[i], want[i])
		}
	}
}

func TestProgbarFormats(t *testing.T) {
	for _, c := range []struct {
		s    float64
		want string
	}{{0, " 0s/step"}, {2.4, " 2s/step"}, {1, " 1s/step"}, {0.0255, " 26ms/step"}, {0.001, " 1ms/step"}, {0.0009, " 900us/step"}} {
		if got := formatStepTime(c.s); got != c.want {
			t.Errorf("formatStepTime(%v) = %q, want %q", c.s, got, c.want)
		}
	}
	for _, c := range []struct {
		v    float64
		want string
	}{{0.95404, "0.9540"}, {-2, "-2.0000"}, {0.001, "1.0000e-03"}, {0.0011, "0.0011"}, {0, "0.0000e+00"}, {1e-7, "1.0000e-07"}} {
		if got := formatMetric(c.v); got != c.want {
			t.Errorf("formatMetric(%v) = %q, want %q", c.v, got, c.want)
		}
	}
	var nan float64
	nan = nan / nan
	if formatMetric(nan) != "nan" {
		t.Errorf("formatMetric(NaN) = %q", formatMetric(nan))
	}
}

func TestProgbarETAAndUnknown(t *testing.T) {
	var out strings.Builder
	clk := newFakeClock()
	p := newProgbar(&out, 1000, true, clk.now)
	clk.advance(4 * time.Second)
	p.Update(1, nil)
	if !strings.HasSuffix(out.String(), "- ETA: 1:06:36") {
		t.Errorf("hours ETA: %q", out.String())
	}
	out.Reset()
	clk.advance(time.Second)
	p.Update(101, nil) // 1s for 100 steps: 10ms/step, 899 steps left
	if !strings.HasSuffix(strings.TrimRight(out.String(), " "), "- ETA: 8s") {
		t.Errorf("seconds ETA: %q", out.String())
	}

	out.Reset()
	p = newProgbar(&out, 0, false, clk.now)
	p.Update(5, nil)
	clk.advance(time.Second)
	p.Done(nil)
	if want := "      5/Unknown - 1s 200ms/step\n"; out.String() != want {
		t.Errorf("unknown target: %q, want %q", out.String(), want)
	}
}

func TestIsTerminal(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if IsTerminal(f) || IsTerminal(nil) {
		t.Error("a regular file is not a terminal")
	}
}

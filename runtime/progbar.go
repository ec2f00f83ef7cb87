package runtime

import (
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"
	"unicode/utf8"
)

// Metric is one named value shown on a progress bar, such as the running
// mean of the loss.
type Metric struct {
	Name  string
	Value float64
}

// Progbar prints Keras's progress bar (tf-keras's generic_utils.Progbar with
// width 30 and verbose=1), for example
//
//	469/469 [==============================] - 12s 25ms/step - loss: 0.1502 - accuracy: 0.9540
//
// On a terminal (interactive) it redraws the line in place with a carriage
// return, at most every 50 ms, showing an ETA while running. Otherwise it
// prints only the final line, once, so logs and pipes get one line per
// epoch. Values are shown as given: like Keras's fit, which declares every
// metric stateful, the caller passes running means.
type Progbar struct {
	w           io.Writer
	target      int
	width       int
	interactive bool
	// now returns the current time; tests replace it to make lines exact.
	now func() time.Time

	start      time.Time
	lastUpdate time.Time
	afterFirst time.Time // when step 1 finished, zero until then
	seen       int
	totalWidth int // width of the last line drawn, to erase leftovers
	done       bool
	line       strings.Builder
}

// progbarInterval is how often an interactive bar redraws, as in Keras.
const progbarInterval = 50 * time.Millisecond

// NewProgbar returns a progress bar for target steps that writes to w. The
// clock starts now. Pass interactive = IsTerminal(os.Stdout) to redraw in
// place on a terminal and print one line per epoch elsewhere. A target of 0
// or less means the number of steps is unknown.
func NewProgbar(w io.Writer, target int, interactive bool) *Progbar {
	return newProgbar(w, target, interactive, time.Now)
}

func newProgbar(w io.Writer, target int, interactive bool, now func() time.Time) *Progbar {
	return &Progbar{w: w, target: target, width: 30, interactive: interactive, now: now, start: now()}
}

// Update reports that current steps are done, with the metrics so far. In
// interactive mode it redraws the bar unless it was drawn less than 50 ms
// ago; otherwise it only records the time.
func (p *Progbar) Update(current int, values []Metric) {
	if p.done {
		return
	}
	p.update(current, values, false)
}

// Done draws the final line of the bar, with every step done, the elapsed
// time, the mean time per step, and values, and ends the line. Later calls
// to Update or Done do nothing.
func (p *Progbar) Done(values []Metric) {
	if p.done {
		return
	}
	current := p.target
	if current <= 0 {
		current = p.seen
	}
	p.update(current, values, true)
	p.done = true
}

func (p *Progbar) update(current int, values []Metric, finalize bool) {
	now := p.now()
	p.seen = current
	if !finalize && (!p.interactive || now.Sub(p.lastUpdate) < progbarInterval) {
		if current == 1 && p.afterFirst.IsZero() {
			p.afterFirst = now
		}
		return
	}
	b := &p.line
	b.Reset()

	if p.target > 0 {
		digits := len(fmt.Sprint(p.target))
		fmt.Fprintf(b, "%*d/%d [", digits, current, p.target)
		prog := float64(min(current, p.target)) / float64(p.target)
		progWidth := int(float64(p.width) * prog)
		if progWidth > 0 {
			b.WriteString(strings.Repeat("=", progWidth-1))
			if current < p.target {
				b.WriteByte('>')
			} else {
				b.WriteByte('=')
			}
		}
		b.WriteString(strings.Repeat(".", p.width-progWidth))
		b.WriteByte(']')
	} else {
		fmt.Fprintf(b, "%7d/Unknown", current)
	}

	perStep := p.stepDuration(current, now)
	if p.target <= 0 || finalize {
		fmt.Fprintf(b, " - %.0fs", now.Sub(p.start).Seconds())
		b.WriteString(formatStepTime(perStep))
	} else {
		eta := perStep * float64(p.target-current)
		switch {
		case eta > 3600:
			fmt.Fprintf(b, " - ETA: %d:%02d:%02d", int(eta/3600), int(math.Mod(eta, 3600)/60), int(math.Mod(eta, 60)))
		case eta > 60:
			fmt.Fprintf(b, " - ETA: %d:%02d", int(eta/60), int(math.Mod(eta, 60)))
		default:
			fmt.Fprintf(b, " - ETA: %ds", int(eta))
		}
	}
	for _, m := range values {
		b.WriteString(" - ")
		b.WriteString(m.Name)
		b.WriteString(": ")
		b.WriteString(formatMetric(m.Value))
	}

	line := b.String()
	if p.interactive {
		width := utf8.RuneCountInString(line)
		pad := max(p.totalWidth-width, 0)
		p.totalWidth = width
		line = "\r" + line + strings.Repeat(" ", pad)
	}
	if finalize {
		line += "\n"
	}
	io.WriteString(p.w, line)
	p.lastUpdate = now
}

// stepDuration returns the mean seconds per step, leaving out the first
// step when possible because it includes one-time setup, as Keras does.
func (p *Progbar) stepDuration(current int, now time.Time) float64 {
	if current <= 0 {
		return 0
	}
	var d float64
	if !p.afterFirst.IsZero() && current > 1 {
		d = now.Sub(p.afterFirst).Seconds() / float64(current-1)
	} else {
		d = now.Sub(p.start).Seconds() / float64(current)
	}
	if current == 1 && p.afterFirst.IsZero() {
		p.afterFirst = now
	}
	return d
}

// formatStepTime formats seconds per step as Keras's _format_time does.
func formatStepTime(s float64) string {
	switch {
	case s >= 1 || s == 0:
		return fmt.Sprintf(" %.0fs/step", s)
	case s >= 1e-3:
		return fmt.Sprintf(" %.0fms/step", s*1e3)
	default:
		return fmt.Sprintf(" %.0fus/step", s*1e6)
	}
}

// formatMetric formats a value as Keras does: four decimals, or four
// significant digits in exponent form for magnitudes of 1e-3 or less, and
// Python's spelling of NaN and infinities.
func formatMetric(v float64) string {
	switch {
	case math.IsNaN(v):
		return "nan"
	case math.IsInf(v, 1):
		return "inf"
	case math.IsInf(v, -1):
		return "-inf"
	case math.Abs(v) > 1e-3:
		return fmt.Sprintf("%.4f", v)
	default:
		return fmt.Sprintf("%.4e", v)
	}
}

// IsTerminal reports whether f is a terminal (a character device), where a
// progress bar can redraw in place.
func IsTerminal(f *os.File) bool {
	if f == nil {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

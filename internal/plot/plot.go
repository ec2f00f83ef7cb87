// Package plot draws training curves from a history CSV, as the book's
// figures 8-9 and 8-10 do: training and validation accuracy per epoch, and
// training and validation loss per epoch.
package plot

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/convc/convc/runtime"
)

var blue = color.RGBA{31, 119, 180, 255}

// Curves writes a PNG with two panels side by side: accuracy on the left
// and loss on the right, each with the training metric as dots and the
// validation metric as a line, as the book draws them with "bo" and "b".
// A metric missing from the history (no validation data) is left out.
func Curves(h *runtime.History, title, out string) error {
	if len(h.Rows) == 0 {
		return fmt.Errorf("the history has no epochs to plot")
	}
	epochs := h.Column("epoch")
	panels := []struct{ metric, name string }{{"accuracy", "accuracy"}, {"loss", "loss"}}
	plots := make([]*plot.Plot, len(panels))
	for i, p := range panels {
		pl := plot.New()
		pl.Title.Text = fmt.Sprintf("Training and validation %s", p.name)
		if title != "" {
			pl.Title.Text = title + ": " + pl.Title.Text
		}
		pl.X.Label.Text = "Epochs"
		pl.Y.Label.Text = strings.ToUpper(p.name[:1]) + p.name[1:]
		pl.Legend.Top = true
		pl.Add(plotter.NewGrid())
		n := 0
		if xy := points(epochs, h.Column(p.metric)); xy != nil {
			s, err := plotter.NewScatter(xy)
			if err != nil {
				return err
			}
			s.GlyphStyle.Color = blue
			s.GlyphStyle.Shape = draw.CircleGlyph{}
			s.GlyphStyle.Radius = vg.Points(3)
			pl.Add(s)
			pl.Legend.Add("Training "+p.name, s)
			n++
		}
		if xy := points(epochs, h.Column("val_"+p.metric)); xy != nil {
			l, err := plotter.NewLine(xy)
			if err != nil {
				return err
			}
			l.LineStyle.Color = blue
			l.LineStyle.Width = vg.Points(1.5)
			pl.Add(l)
			pl.Legend.Add("Validation "+p.name, l)
			n++
		}
		if n == 0 {
			return fmt.Errorf("the history has neither %s nor val_%s", p.metric, p.metric)
		}
		if p.metric == "accuracy" {
			// A flat line would get gonum's padding of 1 on each side;
			// accuracy stays near [0, 1].
			pl.Y.Min, pl.Y.Max = max(pl.Y.Min-0.05, 0), min(pl.Y.Max+0.05, 1)
		}
		// Headroom above the curves for the legend.
		pl.Y.Max += 0.2 * (pl.Y.Max - pl.Y.Min)
		plots[i] = pl
	}

	const w, h2 = 12 * vg.Inch, 4.5 * vg.Inch
	img := vgimg.New(w, h2)
	dc := draw.New(img)
	// White background: PNG viewers show a transparent one as black or
	// checkered.
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Points(20), PadY: vg.Points(10), PadTop: vg.Points(5), PadBottom: vg.Points(5), PadLeft: vg.Points(5), PadRight: vg.Points(15)}
	canvases := plot.Align([][]*plot.Plot{plots}, tiles, dc)
	for i, pl := range plots {
		pl.Draw(canvases[0][i])
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %v", out, err)
	}
	return f.Close()
}

// points pairs epochs with the finite values of a column; nil when there
// are none.
func points(x, y []float64) plotter.XYs {
	var xy plotter.XYs
	for i := range y {
		if !math.IsNaN(y[i]) && !math.IsInf(y[i], 0) {
			xy = append(xy, plotter.XY{X: x[i], Y: y[i]})
		}
	}
	return xy
}

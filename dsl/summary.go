package dsl

import (
	"fmt"
	"strconv"
	"strings"
)

// Summary returns the model's summary table as tf-keras 2.13-2.15 prints
// it for a Sequential-like model: 65 columns, column stops at 29, 55 and
// 65, layer names cut at 26 characters and wrapped, and totals without
// commas with sizes of float32 weights in base-1024 units.
//
// With verbose set, the table is 85 columns wide and has a fourth column,
// "MACs": the multiply-accumulates per sample of each layer's forward pass
// (Conv2D and Dense weights, and one per element for Rescaling). A line
// "Total MACs per sample: N (x.xx M)" follows the parameter totals.
func Summary(m *Model, verbose bool) string {
	width := 65
	stops := []int{29, 55, 65}
	header := []string{"Layer (type)", "Output Shape", "Param #"}
	if verbose {
		width = 85
		stops = []int{29, 55, 67, 85}
		header = append(header, "MACs")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Model: %q\n", m.Name)
	b.WriteString(strings.Repeat("_", width) + "\n")
	printRow(&b, header, stops)
	b.WriteString(strings.Repeat("=", width) + "\n")
	var total, trainable int
	var macs int64
	// A model that is only an application, as conv_base in listing 8.19,
	// lists the application's layers; inside a larger model, an
	// application is one "(Functional)" row, as in listing 8.24.
	fold := false
	for i := 1; i < len(m.Layers); i++ {
		if m.Layers[i].Group == "" || m.Layers[i].Group != m.Layers[1].Group {
			fold = true
		}
	}
	for i := 0; i < len(m.Layers); {
		l := &m.Layers[i]
		if l.Implicit {
			i++
			continue
		}
		name, kind, out := l.Name, string(l.Kind), l.Out
		n, mac := 0, int64(0)
		j := i + 1
		if fold && l.Group != "" {
			for j < len(m.Layers) && m.Layers[j].Group == l.Group {
				j++
			}
			name, kind, out = l.Group, "Functional", m.Layers[j-1].Out
		}
		for _, gl := range m.Layers[i:j] {
			n += gl.ParamCount()
			mac += gl.MACs
			for _, p := range gl.Params {
				total += p.Count()
				if p.Trainable {
					trainable += p.Count()
				}
			}
		}
		shape := outputShape(out)
		if l.Kind == KindInput {
			shape = "[" + shape + "]"
		}
		row := []string{name + " (" + kind + ")", shape, strconv.Itoa(n)}
		if verbose {
			row = append(row, strconv.FormatInt(mac, 10))
		}
		printRow(&b, row, stops)
		b.WriteString(strings.Repeat(" ", width) + "\n")
		macs += mac
		i = j
	}
	b.WriteString(strings.Repeat("=", width) + "\n")
	fmt.Fprintf(&b, "Total params: %d (%s)\n", total, memorySize(total))
	fmt.Fprintf(&b, "Trainable params: %d (%s)\n", trainable, memorySize(trainable))
	fmt.Fprintf(&b, "Non-trainable params: %d (%s)\n", total-trainable, memorySize(total-trainable))
	if verbose {
		fmt.Fprintf(&b, "Total MACs per sample: %d (%.2f M)\n", macs, float64(macs)/1e6)
	}
	b.WriteString(strings.Repeat("_", width) + "\n")
	return b.String()
}

// outputShape formats a shape with the batch dimension as Keras does:
// (None, 26, 26, 32).
func outputShape(s Shape) string {
	var b strings.Builder
	b.WriteString("(None")
	for _, d := range s {
		fmt.Fprintf(&b, ", %d", d)
	}
	b.WriteByte(')')
	return b.String()
}

// printRow is tf-keras's print_row: each column is cut to fit before its
// stop, with two spaces kept before the next column (and one leading
// space in the first); what does not fit continues on the next line.
func printRow(b *strings.Builder, fields []string, stops []int) {
	left := append([]string(nil), fields...)
	for {
		more := false
		for _, f := range left {
			more = more || f != ""
		}
		if !more {
			return
		}
		var line strings.Builder
		for col := range left {
			start := 0
			if col > 0 {
				start = stops[col-1]
			}
			space := 2
			if col == len(stops)-1 {
				space = 0
			}
			cutoff := stops[col] - start - space
			if col == 0 {
				cutoff--
			}
			fit := left[col]
			if len(fit) > cutoff {
				fit = fit[:cutoff]
			}
			// Keras breaks lines after the end of a tuple, list or dict.
			best := -1
			for _, cond := range []string{"),", "},", "],", "',"} {
				if i := strings.Index(fit, cond); i >= 0 && (best < 0 || i+len(cond) < best) {
					best = i + len(cond)
				}
			}
			if best >= 0 {
				cutoff = best
				fit = fit[:cutoff]
			}
			if col == 0 {
				line.WriteByte(' ')
			}
			line.WriteString(fit)
			line.WriteString(strings.Repeat(" ", space))
			left[col] = left[col][len(fit):]
			if pad := stops[col] - line.Len(); pad > 0 {
				line.WriteString(strings.Repeat(" ", pad))
			}
		}
		b.WriteString(line.String())
		b.WriteByte('\n')
	}
}

// memorySize is tf-keras's readable_memory_size for float32 weights.
func memorySize(params int) string {
	size := float64(params) * 4
	for _, unit := range []string{"Byte", "KB", "MB", "GB", "TB"} {
		if size/1024 < 1 {
			return fmt.Sprintf("%.2f %s", size, unit)
		}
		size /= 1024
	}
	return fmt.Sprintf("%.2f PB", size)
}

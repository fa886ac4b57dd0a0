package console

import (
	"strconv"
	"strings"
	"time"

	"github.com/etherisc/depeg-relay/monitor"
)

// chart is the balance chart as SVG coordinates. It is drawn on the server,
// so the page shows it with JavaScript off and needs no charting library.
type chart struct {
	W, H             int
	Line, Area       string // polyline and polygon points
	HasAlert         bool
	AlertY           string
	Top, Bottom      string // ETH at the top and bottom edges
	AlertLabel       string
	From, Last, Desc string
}

// minChartWindow is the shortest time the chart spans.
const minChartWindow = 10 * time.Second

// Geometry of the chart's viewBox.
const (
	chartW, chartH = 640, 150
	padL, padR     = 4, 4
	padT, padB     = 12, 16
)

// newChart lays out samples over the span before now, with the alert
// balance as a dashed line when known. The vertical range covers the
// samples and the alert line, so how close the balance is to the alert
// shows at a glance. nil without samples.
func newChart(samples []monitor.BalanceSample, alert float64, hasAlert bool, now time.Time, span time.Duration) *chart {
	if len(samples) == 0 || span <= 0 {
		return nil
	}
	vals := make([]float64, len(samples))
	lo, hi := ethFloat(samples[0].Wei), ethFloat(samples[0].Wei)
	for i, s := range samples {
		vals[i] = ethFloat(s.Wei)
		lo, hi = min(lo, vals[i]), max(hi, vals[i])
	}
	// The alert line is drawn when it is near the balance (within twice the
	// balance's own range), and the range then stretches to it: how close
	// the balance is to the alert shows at a glance. One far below would
	// flatten the line to the top edge; the legend names it instead.
	near := false
	if hasAlert {
		d := max(hi-lo, hi*0.05)
		near = alert >= lo-2*d && alert <= hi+2*d
		if near {
			lo, hi = min(lo, alert), max(hi, alert)
		}
	}
	if pad := (hi - lo) * 0.08; pad > 0 {
		lo, hi = max(lo-pad, 0), hi+pad
	} else {
		lo, hi = max(lo*0.99, 0), hi*1.01+1e-9
	}
	w, h := float64(chartW-padL-padR), float64(chartH-padT-padB)
	// A history younger than the span (a fresh process) is drawn over the
	// time it covers, so minutes of readings are a line, not a sliver.
	from := now.Add(-span)
	if first := samples[0].At; first.After(from) {
		from = first
	}
	if latest := now.Add(-minChartWindow); from.After(latest) {
		from = latest
	}
	span = now.Sub(from)
	x := func(t time.Time) float64 {
		f := float64(t.Sub(from)) / float64(span)
		return padL + min(max(f, 0), 1)*w
	}
	y := func(v float64) float64 { return padT + (hi-v)/(hi-lo)*h }
	var line []string
	for i, s := range samples {
		line = append(line, pt(x(s.At), y(vals[i])))
	}
	if len(samples) == 1 { // one reading: a level line up to now
		line = append(line, pt(x(now), y(vals[0])))
	}
	firstX := x(samples[0].At)
	lastX := x(samples[len(samples)-1].At)
	if len(samples) == 1 {
		lastX = x(now)
	}
	base := y(lo)
	area := append([]string{pt(firstX, base)}, line...)
	area = append(area, pt(lastX, base))
	prec := precision(lo, hi)
	n := func(v float64) string { return strconv.FormatFloat(v, 'g', prec, 64) }
	c := &chart{
		W: chartW, H: chartH, Line: strings.Join(line, " "), Area: strings.Join(area, " "),
		Top: n(hi) + " ETH", Bottom: n(lo) + " ETH", From: age(span) + " ago",
		Last: n(vals[len(vals)-1]) + " ETH",
		Desc: "Wallet balance over the last " + age(span) + ": " + strconv.Itoa(len(samples)) + " readings, from " +
			n(vals[0]) + " to " + n(vals[len(vals)-1]) + " ETH",
	}
	switch {
	case near:
		c.HasAlert, c.AlertY, c.AlertLabel = true, coord(y(alert)), "alert "+num(alert)+" ETH"
	case hasAlert:
		c.AlertLabel = "alert " + num(alert) + " ETH, far below"
		if alert > hi {
			c.AlertLabel = "alert " + num(alert) + " ETH, above"
		}
	}
	return c
}

func pt(x, y float64) string { return coord(x) + "," + coord(y) }

func coord(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

func num(v float64) string { return strconv.FormatFloat(v, 'g', 5, 64) }

// precision is the number of significant digits that tell lo and hi apart
// (999.99 and 1000 are both "1000" at five), at least five.
func precision(lo, hi float64) int {
	for p := 5; p < 15; p++ {
		if strconv.FormatFloat(lo, 'g', p, 64) != strconv.FormatFloat(hi, 'g', p, 64) {
			return p
		}
	}
	return 15
}

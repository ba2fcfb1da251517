// The ladder as an SVG image (-svg): what a Ladder records while it draws,
// and WriteSVG.

package main

import (
	"bufio"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// svgItem is one thing a Ladder drew, kept for WriteSVG.
type svgItem struct {
	kind           svgKind
	text           string   // section title, note, summary
	failed         bool     // summary of a failed section
	from, to       int      // arrow: columns
	label          []string // arrow: what the message is, then its key header fields
	colour         string   // arrow: ANSI colour of its class
	retransmission bool
}

type svgKind uint8

const (
	svgSection svgKind = iota + 1
	svgNote
	svgArrow
	svgSummary
)

// RecordSVG makes the Ladder keep what it draws from now on, for
// WriteSVG. Call it before the first Section.
func (l *Ladder) RecordSVG() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recording = true
}

// record keeps it if the Ladder records; l.mu is held.
func (l *Ladder) record(it svgItem) {
	if l.recording {
		l.items = append(l.items, it)
	}
}

// SVG layout, in pixels.
const (
	svgColumnGap = 210 // from one lifeline to the next
	svgMargin    = 30
	svgRow       = 20 // an arrow's row
	svgSubRow    = 16 // a header field under its arrow
	svgCharWidth = 7.3
	svgFont      = `font-family="DejaVu Sans Mono, Menlo, Consolas, monospace"`
)

// svgColours maps the ANSI colours of message classes to SVG ones.
var svgColours = map[string]string{
	colourNone:   "#333333",
	colourInvite: "#00838f",
	colourRefer:  "#8e24aa",
	colourEvent:  "#b26a00",
	colour1xx:    "#1565c0",
	colour2xx:    "#2e7d32",
	colourError:  "#c62828",
	ansiDim:      "#9e9e9e",
}

// WriteSVG writes what the Ladder drew since RecordSVG as a standalone
// SVG image: the parties and their lifelines, each section under its
// title, every message as an arrow labelled with what it is and, under
// that, the header fields that tell a transfer's steps apart (the text
// ladder's labels, unwrapped), notes, and each section's outcome.
func (l *Ladder) WriteSVG(w io.Writer) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := max(len(l.parties), 1)
	x := func(col int) int { return svgMargin + 50 + col*svgColumnGap }
	labelX := x(n-1) + 36

	// Size: one pass to measure.
	height, widest := svgMargin+30, 0
	for _, it := range l.items {
		switch it.kind {
		case svgSection:
			height += 62
			widest = max(widest, labelX-svgMargin+utf8.RuneCountInString(it.text)*9)
		case svgNote:
			height += svgRow
			widest = max(widest, labelX+utf8.RuneCountInString(it.text)*8)
		case svgArrow:
			height += svgRow + svgSubRow*(len(it.label)-1)
			for i, s := range it.label {
				widest = max(widest, labelX+16*min(i, 1)+int(float64(utf8.RuneCountInString(s))*svgCharWidth))
			}
		case svgSummary:
			height += svgRow + 10
			widest = max(widest, svgMargin+utf8.RuneCountInString(it.text)*8)
		}
	}
	width := max(widest, labelX+300) + svgMargin
	height += svgMargin

	b := bufio.NewWriter(w)
	fmt.Fprintf(b, `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-size="13" %s>
<title>Call transfers with SIP REFER: sipxfer demo</title>
<defs>
`, width, height, width, height, svgFont)
	colours := []string{colourNone, colourInvite, colourRefer, colourEvent, colour1xx, colour2xx, colourError, ansiDim}
	for i, c := range colours {
		fmt.Fprintf(b, `<marker id="h%d" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="%s"/></marker>
`, i, svgColours[c])
	}
	b.WriteString("</defs>\n")
	fmt.Fprintf(b, `<rect width="%d" height="%d" fill="#ffffff"/>
`, width, height)
	marker := func(c string) int {
		for i, k := range colours {
			if k == c {
				return i
			}
		}
		return 0
	}

	// Lifelines, behind everything, and the names above them.
	for i, p := range l.parties {
		fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#bdbdbd" stroke-width="1.5"/>
`, x(i), svgMargin+8, x(i), height-svgMargin)
		fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="middle" font-weight="bold" font-size="15">%s</text>
`, x(i), svgMargin, esc(p))
	}

	y := svgMargin + 30
	for _, it := range l.items {
		switch it.kind {
		case svgSection:
			y += 14
			fmt.Fprintf(b, `<rect x="%d" y="%d" width="%d" height="26" fill="#eceff1"/>
<text x="%d" y="%d" font-weight="bold" font-size="15">%s</text>
`, svgMargin/2, y, width-svgMargin, svgMargin, y+18, esc(it.text))
			y += 26 + 4
			for i, p := range l.parties {
				fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="middle" font-weight="bold" fill="#616161" stroke="#ffffff" stroke-width="4" paint-order="stroke">%s</text>
`, x(i), y+12, esc(p))
			}
			y += 18
		case svgNote:
			y += svgRow
			fmt.Fprintf(b, `<text x="%d" y="%d" font-style="italic" font-weight="bold" fill="#424242">%s</text>
`, labelX, y-6, esc(it.text))
		case svgArrow:
			y += svgRow
			c := it.colour
			if it.retransmission {
				c = ansiDim
			}
			stroke := svgColours[c]
			if stroke == "" {
				stroke = svgColours[colourNone]
			}
			ay := y - 9
			dash := ""
			if it.retransmission {
				dash = ` stroke-dasharray="5,4"`
			}
			if it.from == it.to {
				fmt.Fprintf(b, `<path class="msg" d="M%d,%d h28 v10 h-26" fill="none" stroke="%s" stroke-width="1.5"%s marker-end="url(#h%d)"/>
`, x(it.from), ay-5, stroke, dash, marker(c))
			} else {
				x1, x2 := x(it.from), x(it.to)
				if x2 > x1 {
					x1, x2 = x1+2, x2-2
				} else {
					x1, x2 = x1-2, x2+2
				}
				fmt.Fprintf(b, `<line class="msg" x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="1.5"%s marker-end="url(#h%d)"/>
`, x1, ay, x2, ay, stroke, dash, marker(c))
			}
			weight := ` font-weight="bold"`
			if it.retransmission {
				weight = ""
			}
			fmt.Fprintf(b, `<text x="%d" y="%d" fill="%s"%s>%s</text>
`, labelX, y-5, stroke, weight, esc(it.label[0]))
			for _, h := range it.label[1:] {
				y += svgSubRow
				fmt.Fprintf(b, `<text x="%d" y="%d" fill="#424242" font-size="12">%s</text>
`, labelX+16, y-5, esc(h))
			}
		case svgSummary:
			y += svgRow + 10
			fill := svgColours[colour2xx]
			if it.failed {
				fill = svgColours[colourError]
			}
			fmt.Fprintf(b, `<text x="%d" y="%d" font-weight="bold" fill="%s" stroke="#ffffff" stroke-width="4" paint-order="stroke">%s</text>
`, svgMargin, y-8, fill, esc(it.text))
		}
	}
	b.WriteString("</svg>\n")
	return b.Flush()
}

// esc escapes s for XML character data and attribute values.
func esc(s string) string {
	var sb strings.Builder
	_ = xml.EscapeText(&sb, []byte(s))
	return sb.String()
}

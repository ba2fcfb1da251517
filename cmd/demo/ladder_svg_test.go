// Tests of the SVG ladder: the demo's -svg document, decoded whole, and
// the committed docs/transfer.svg.

package main

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// -svg writes the ladder of both transfers as one well-formed XML document
// (decoded whole by encoding/xml), an <svg> with one arrow per message the
// text ladder drew, each labelled with what the text ladder says of it, and
// both sections' titles and outcomes.
func TestDemoSVG(t *testing.T) {
	var out bytes.Buffer
	file := filepath.Join(t.TempDir(), "transfer.svg")
	if err := runDemo([]string{"-svg", file}, &out); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	doc, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	texts, arrows := decodeSVG(t, doc)

	// The messages of the run: every arrow of the text ladder, by the
	// head of its label ("REFER (CSeq 20120 REFER)").
	head := regexp.MustCompile(`(?m)^[│ ]*(?:<─+│|│─+>|─+)[│ ─<>]*  (.+?)(?:  |$)`)
	var messages []string
	for _, m := range head.FindAllStringSubmatch(out.String(), -1) {
		messages = append(messages, m[1])
	}
	t.Logf("%d messages, %d arrows", len(messages), arrows)
	if len(messages) < 40 {
		t.Fatalf("only %d messages found in the text ladder:\n%s", len(messages), out.String())
	}
	if arrows != len(messages) {
		t.Errorf("%d arrows in the SVG, %d messages drawn", arrows, len(messages))
	}
	all := strings.Join(texts, "\n")
	for _, m := range messages {
		if !strings.Contains(all, m) {
			t.Errorf("message %q not in the SVG", m)
		}
	}
	for _, want := range []string{
		"Alice", "Bob", "Carol",
		"Blind transfer (RFC 5589 §6.1)", "Attended transfer (RFC 5589 §7.3)",
		"✓ Blind transfer (RFC 5589 §6.1) succeeded", "✓ Attended transfer (RFC 5589 §7.3) succeeded",
		"Refer-To: <sip:carol@", "Replaces: ", "sipfrag: SIP/2.0 200 OK", "hold: a=sendonly",
		"Alice transfers Bob to Carol",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("SVG lacks %q", want)
		}
	}
}

// decodeSVG decodes doc to its end, failing t unless it is one well-formed
// <svg> element, and returns its texts and the number of its arrows.
func decodeSVG(t *testing.T, doc []byte) (texts []string, arrows int) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(doc))
	depth, roots := 0, 0
	var text *strings.Builder
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				roots++
				if tok.Name.Local != "svg" || tok.Name.Space != "http://www.w3.org/2000/svg" {
					t.Fatalf("root element %v", tok.Name)
				}
			}
			depth++
			if tok.Name.Local == "text" {
				text = &strings.Builder{}
			}
			for _, a := range tok.Attr {
				if a.Name.Local == "class" && a.Value == "msg" {
					arrows++
				}
			}
		case xml.EndElement:
			depth--
			if tok.Name.Local == "text" && text != nil {
				texts = append(texts, text.String())
				text = nil
			}
		case xml.CharData:
			if text != nil {
				text.Write(tok)
			}
		}
	}
	if roots != 1 || depth != 0 {
		t.Fatalf("%d root elements, depth %d at the end", roots, depth)
	}
	return texts, arrows
}

// The picture the README shows, docs/transfer.svg, is such a document, of
// two successful transfers.
func TestCommittedSVG(t *testing.T) {
	doc, err := os.ReadFile("../../docs/transfer.svg")
	if err != nil {
		t.Fatal(err)
	}
	texts, arrows := decodeSVG(t, doc)
	all := strings.Join(texts, "\n")
	for _, want := range []string{"✓ Blind transfer (RFC 5589 §6.1) succeeded", "✓ Attended transfer (RFC 5589 §7.3) succeeded", "REFER (CSeq "} {
		if !strings.Contains(all, want) {
			t.Errorf("docs/transfer.svg lacks %q", want)
		}
	}
	if arrows < 40 {
		t.Errorf("docs/transfer.svg has %d arrows", arrows)
	}
	if !strings.Contains(readme(t), "](docs/transfer.svg)") {
		t.Error("the README does not show docs/transfer.svg")
	}
}

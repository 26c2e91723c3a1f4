package parse

import (
	"encoding/xml"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// A workbook stores dates, times, percentages and amounts as plain numbers
// and shows them through the number format of the cell's style. Indexing the
// stored number ("45366") finds nothing a reader would search for, so cells
// are rendered through their format: dates and times in ISO form
// (2024-03-15, 2024-03-15 13:45, 13:45:30), which is unambiguous whatever the
// locale the format was written for, and numbers with the format's decimals,
// percent sign, thousands separators and currency text.

// xlsxStyles maps a cell's style index to its number format.
type xlsxStyles struct {
	formats  []string // by cellXfs index: the format code, "" for General
	date1904 bool
}

// maxXlsxStyles bounds the cell formats read; Excel itself allows 64000.
const maxXlsxStyles = 65536

// xlsxBuiltinFormats are the format codes Excel implies for built-in ids.
// 14 and 22 show the locale's short date; they are rendered ISO here anyway.
var xlsxBuiltinFormats = map[int]string{
	1: "0", 2: "0.00", 3: "#,##0", 4: "#,##0.00",
	5: `"$"#,##0_);("$"#,##0)`, 6: `"$"#,##0_);[Red]("$"#,##0)`,
	7: `"$"#,##0.00_);("$"#,##0.00)`, 8: `"$"#,##0.00_);[Red]("$"#,##0.00)`,
	9: "0%", 10: "0.00%", 11: "0.00E+00",
	14: "yyyy-mm-dd", 15: "d-mmm-yy", 16: "d-mmm", 17: "mmm-yy",
	18: "h:mm AM/PM", 19: "h:mm:ss AM/PM", 20: "h:mm", 21: "h:mm:ss", 22: "yyyy-mm-dd h:mm",
	37: "#,##0 ;(#,##0)", 38: "#,##0 ;[Red](#,##0)", 39: "#,##0.00;(#,##0.00)", 40: "#,##0.00;[Red](#,##0.00)",
	41: `_(* #,##0_);_(* \(#,##0\);_(* "-"_);_(@_)`,
	42: `_("$"* #,##0_);_("$"* \(#,##0\);_("$"* "-"_);_(@_)`,
	43: `_(* #,##0.00_);_(* \(#,##0.00\);_(* "-"??_);_(@_)`,
	44: `_("$"* #,##0.00_);_("$"* \(#,##0.00\);_("$"* "-"??_);_(@_)`,
	45: "mm:ss", 46: "[h]:mm:ss", 47: "mm:ss.0", 48: "##0.0E+0", 49: "@",
}

// xlsxReadStyles reads the number formats of the workbook's styles part and
// whether it counts dates from 1904. A missing or broken part leaves every
// cell General, as a damaged style sheet must not lose the cells.
func xlsxReadStyles(z *zipArchive, wb string) (*xlsxStyles, error) {
	st := &xlsxStyles{}
	part := ""
	if rels, err := readRels(z, wb); err == nil {
		for _, rel := range rels {
			if relTypeIs(rel.Type, "styles") && !rel.External {
				part = rel.Target
			}
		}
	}
	if part == "" {
		part = "xl/styles.xml"
	}
	if z.has(wb) {
		d, rc, err := z.decoder(wb)
		if err != nil {
			return nil, err
		}
		for {
			tok, err := d.Token()
			if err != nil {
				break
			}
			if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "workbookPr" {
				v := xmlAttr(se, "date1904")
				st.date1904 = v == "1" || v == "true"
				break
			}
		}
		rc.Close()
	}
	if !z.has(part) {
		return st, nil
	}
	d, rc, err := z.decoder(part)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	custom := map[int]string{}
	inXfs := false
	for {
		tok, err := d.Token()
		if err != nil {
			if pe := (*Error)(nil); errors.As(err, &pe) && pe.Code != CodeCorrupt {
				return nil, pe
			}
			return st, nil
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "numFmt":
				id, err := strconv.Atoi(xmlAttr(t, "numFmtId"))
				code := xmlAttr(t, "formatCode")
				if err == nil && len(custom) < maxXlsxStyles {
					if err := z.b.retain(stringCost(len(code)), memParts); err != nil {
						return nil, err
					}
					custom[id] = code
				}
			case "cellXfs":
				inXfs = true
			case "xf":
				if !inXfs || len(st.formats) >= maxXlsxStyles {
					continue
				}
				id, _ := strconv.Atoi(xmlAttr(t, "numFmtId"))
				code, ok := custom[id]
				if !ok {
					code = xlsxBuiltinFormats[id]
				}
				if err := z.b.retain(costString, memParts); err != nil {
					return nil, err
				}
				st.formats = append(st.formats, code)
			}
		case xml.EndElement:
			if t.Name.Local == "cellXfs" {
				inXfs = false
			}
		}
	}
}

// format renders the stored number raw of a cell with style index style.
// Anything it cannot read is left as stored.
func (st *xlsxStyles) format(style, raw string) string {
	if st == nil || style == "" {
		return raw
	}
	i, err := strconv.Atoi(style)
	if err != nil || i < 0 || i >= len(st.formats) || st.formats[i] == "" {
		return raw
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(raw), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return raw
	}
	if out, ok := formatNumber(v, st.formats[i], st.date1904); ok {
		return out
	}
	return raw
}

// formatNumber renders v through an Excel number format code.
func formatNumber(v float64, code string, date1904 bool) (string, bool) {
	sections := splitFormat(code)
	sec := sections[0]
	neg := v < 0
	switch {
	case neg && len(sections) >= 2 && strings.TrimSpace(sections[1]) != "":
		// The negative section shows the sign itself, as parentheses or a minus.
		sec, v, neg = sections[1], -v, false
	case v == 0 && len(sections) >= 3:
		sec = sections[2]
	}
	lit, pattern := scanFormat(sec)
	if strings.EqualFold(strings.TrimSpace(pattern), "general") {
		return "", false
	}
	if isDateFormat(pattern) {
		return formatDate(v, pattern, date1904)
	}
	return formatDecimal(v, neg, lit, pattern)
}

// splitFormat splits a format code into its sections at semicolons outside
// quotes and escapes.
func splitFormat(code string) []string {
	var out []string
	start, quoted := 0, false
	for i := 0; i < len(code); i++ {
		switch c := code[i]; {
		case c == '"':
			quoted = !quoted
		case c == '\\' && !quoted:
			i++
		case c == ';' && !quoted:
			out = append(out, code[start:i])
			start = i + 1
		}
	}
	return append(out, code[start:])
}

// scanFormat reads one section: lit is the section with quoted text and
// escapes resolved into plain characters, pattern the same with literals,
// padding (_x), fills (*x), colours and conditions removed, which is what is
// classified. A currency tag [$€-407] becomes its symbol in both.
func scanFormat(sec string) (lit []formatToken, pattern string) {
	var pb strings.Builder
	for i := 0; i < len(sec); i++ {
		c := sec[i]
		switch {
		case c == '"':
			j := strings.IndexByte(sec[i+1:], '"')
			if j < 0 {
				j = len(sec) - i - 1
			}
			lit = append(lit, formatToken{text: sec[i+1 : i+1+j]})
			i += j + 1
		case c == '\\' && i+1 < len(sec):
			lit = append(lit, formatToken{text: sec[i+1 : i+2]})
			i++
		case (c == '_' || c == '*') && i+1 < len(sec):
			i++
		case c == '[':
			j := strings.IndexByte(sec[i:], ']')
			if j < 0 {
				return lit, pb.String()
			}
			tag := sec[i+1 : i+j]
			if sym, ok := strings.CutPrefix(tag, "$"); ok {
				sym, _, _ = strings.Cut(sym, "-")
				lit = append(lit, formatToken{text: sym})
			} else if t := strings.ToLower(tag); strings.Trim(t, "hms") == "" && t != "" {
				// Elapsed time: [h]:mm:ss.
				lit = append(lit, formatToken{text: t, code: true})
				pb.WriteString("[" + t + "]")
			}
			i += j
		default:
			lit = append(lit, formatToken{text: string(c), code: true})
			pb.WriteByte(c)
		}
	}
	return lit, pb.String()
}

// formatToken is a piece of a section: a code character or literal text.
type formatToken struct {
	text string
	code bool
}

// isDateFormat reports whether a pattern shows a date or a time.
func isDateFormat(pattern string) bool {
	p := strings.ToLower(pattern)
	if strings.Contains(p, "general") {
		return false
	}
	return strings.ContainsAny(p, "ydhs") || strings.Contains(p, "m") && !strings.ContainsAny(p, "0#?")
}

// formatDate renders a serial date-time in ISO form: the date when the
// pattern shows one, the time when it shows hours, minutes or seconds.
func formatDate(v float64, pattern string, date1904 bool) (string, bool) {
	p := strings.ToLower(pattern)
	if strings.HasPrefix(p, "[") {
		// Elapsed time: total hours, then minutes and seconds.
		secs := int64(math.Round(v * 86400))
		return fmt.Sprintf("%d:%02d:%02d", secs/3600, secs/60%60, secs%60), true
	}
	hasDate := strings.ContainsAny(p, "yd") || strings.Contains(p, "m") && !strings.ContainsAny(p, "hs")
	hasTime := strings.ContainsAny(p, "hs")
	hasSecs := strings.Contains(p, "s")
	if v < 0 || v > 2958465 { // past 9999-12-31: Excel shows ####
		return "", false
	}
	days := math.Floor(v)
	secs := int64(math.Round((v - days) * 86400))
	if secs == 86400 {
		days, secs = days+1, 0
	}
	var date string
	switch {
	case date1904:
		date = time.Date(1904, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, int(days)).Format("2006-01-02")
	case days == 60:
		// Excel keeps Lotus 1-2-3's leap day that never was.
		date = "1900-02-29"
	case days == 0:
		date = "1900-01-00"
	case days < 60:
		date = time.Date(1899, 12, 31, 0, 0, 0, 0, time.UTC).AddDate(0, 0, int(days)).Format("2006-01-02")
	default:
		date = time.Date(1899, 12, 30, 0, 0, 0, 0, time.UTC).AddDate(0, 0, int(days)).Format("2006-01-02")
	}
	clock := fmt.Sprintf("%02d:%02d", secs/3600, secs/60%60)
	if hasSecs {
		clock += fmt.Sprintf(":%02d", secs%60)
	}
	switch {
	case hasDate && hasTime:
		return date + " " + clock, true
	case hasTime:
		return clock, true
	}
	return date, true
}

// formatDecimal renders a number: digits as the pattern's placeholders ask
// (decimals, thousands, percent, exponent), between the section's literal
// text.
func formatDecimal(v float64, neg bool, lit []formatToken, pattern string) (string, bool) {
	if strings.Contains(pattern, "/") {
		return "", false // fractions: the stored number reads better
	}
	first, last := -1, -1
	for i, t := range lit {
		if t.code && strings.ContainsAny(t.text, "0#?") {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first < 0 {
		// No digits: the section is text only, as the zero section "-" of
		// accounting formats.
		var sb strings.Builder
		for _, t := range lit {
			if t.text != "@" {
				sb.WriteString(t.text)
			}
		}
		return strings.TrimSpace(sb.String()), true
	}
	// The number's pattern runs from its first placeholder to its last, with
	// the decimal point, separators and exponent between.
	var num strings.Builder
	for _, t := range lit[first : last+1] {
		num.WriteString(t.text)
	}
	np := num.String()
	for _, t := range lit {
		if t.code && t.text == "%" {
			v *= 100
		}
	}
	intPart, frac, _ := strings.Cut(np, ".")
	decimals := strings.Count(frac, "0") + strings.Count(frac, "#") + strings.Count(frac, "?")
	var digits string
	if e := strings.IndexAny(np, "Ee"); e >= 0 {
		_, f, _ := strings.Cut(np[:e], ".")
		digits = strconv.FormatFloat(math.Abs(v), 'E', strings.Count(f, "0")+strings.Count(f, "#"), 64)
		// Go writes E+06; Excel writes as many exponent digits as the pattern.
		if m, exp, ok := strings.Cut(digits, "E"); ok {
			sign, n := exp[:1], strings.TrimLeft(exp[1:], "0")
			want := len(strings.TrimLeft(np[e+1:], "+-"))
			for len(n) < want {
				n = "0" + n
			}
			digits = m + "E" + sign + n
		}
	} else {
		digits = strconv.FormatFloat(roundHalfUp(math.Abs(v), decimals), 'f', decimals, 64)
		if strings.Contains(intPart, ",") {
			digits = groupThousands(digits)
		}
		if minInt := strings.Count(intPart, "0"); minInt == 0 && strings.HasPrefix(digits, "0") {
			// Only # or ? before the point: a zero integer part shows nothing.
			digits = digits[1:]
		}
	}
	if neg && math.Abs(v) >= 0.5*math.Pow10(-decimals) {
		digits = "-" + digits
	}
	var sb strings.Builder
	for i, t := range lit {
		switch {
		case i == first:
			sb.WriteString(digits)
		case i > first && i <= last:
		case t.text == "@":
		default:
			sb.WriteString(t.text)
		}
	}
	return strings.TrimSpace(sb.String()), true
}

// groupThousands puts commas between groups of three integer digits.
func groupThousands(s string) string {
	intPart, frac, hasFrac := strings.Cut(s, ".")
	var sb strings.Builder
	for i, c := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			sb.WriteByte(',')
		}
		sb.WriteRune(c)
	}
	if hasFrac {
		sb.WriteString("." + frac)
	}
	return sb.String()
}

// roundHalfUp rounds as Excel does: to 15 significant digits first (so a
// stored 2.675 is 2.675, not 2.67499…), then halves away from zero.
func roundHalfUp(v float64, decimals int) float64 {
	if r, err := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 15, 64), 64); err == nil {
		v = r
	}
	if decimals > 15 {
		return v
	}
	p := math.Pow10(decimals)
	if r := math.Round(v*p) / p; !math.IsInf(r, 0) && !math.IsNaN(r) {
		return r
	}
	return v
}

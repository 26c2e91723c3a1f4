package pdf

import (
	"strings"

	"golang.org/x/text/encoding/charmap"
)

// glyphList holds the Adobe glyph names met in practice, " name:hex" each.
// A constant string keeps the table out of mutable package state; it is only
// searched while fonts load, at most 256 names per font.
const glyphList = " A:0041 AE:00C6 Aacute:00C1 Acircumflex:00C2 Adieresis:00C4 Agrave:00C0 Amacron:0100" +
	" Aogonek:0104 Aring:00C5 Atilde:00C3 B:0042 C:0043 Cacute:0106 Ccaron:010C Ccedilla:00C7" +
	" D:0044 Dcaron:010E Delta:2206 E:0045 Eacute:00C9 Ecaron:011A Ecircumflex:00CA" +
	" Edieresis:00CB Egrave:00C8 Emacron:0112 Eogonek:0118 Eth:00D0 Euro:20AC F:0046 G:0047" +
	" Gamma:0393 Gbreve:011E H:0048 H22073:25A1 I:0049 Iacute:00CD Icircumflex:00CE" +
	" Idieresis:00CF Idotaccent:0130 Igrave:00CC Imacron:012A J:004A K:004B L:004C Lambda:039B" +
	" Lslash:0141 M:004D N:004E Nacute:0143 Ncaron:0147 Ntilde:00D1 O:004F OE:0152 Oacute:00D3" +
	" Ocircumflex:00D4 Odieresis:00D6 Ograve:00D2 Ohungarumlaut:0150 Omacron:014C Omega:2126" +
	" Oslash:00D8 Otilde:00D5 P:0050 Phi:03A6 Psi:03A8 Q:0051 R:0052 Rcaron:0158 S:0053" +
	" Sacute:015A Scaron:0160 Scedilla:015E Sigma:03A3 T:0054 Tcaron:0164 Theta:0398 Thorn:00DE" +
	" U:0055 Uacute:00DA Ucircumflex:00DB Udieresis:00DC Ugrave:00D9 Uhungarumlaut:0170" +
	" Umacron:016A Uring:016E V:0056 W:0057 X:0058 Y:0059 Yacute:00DD Ydieresis:0178 Z:005A" +
	" Zacute:0179 Zcaron:017D Zdotaccent:017B a:0061 aacute:00E1 acircumflex:00E2 acute:00B4" +
	" adieresis:00E4 ae:00E6 afii10017:0410 afii61352:2116 agrave:00E0 alpha:03B1 amacron:0101" +
	" ampersand:0026 aogonek:0105 approxequal:2248 aring:00E5 arrowdown:2193 arrowleft:2190" +
	" arrowright:2192 arrowup:2191 asciicircum:005E asciitilde:007E asterisk:002A at:0040" +
	" atilde:00E3 b:0062 backslash:005C bar:007C beta:03B2 braceleft:007B braceright:007D" +
	" bracketleft:005B bracketright:005D breve:02D8 brokenbar:00A6 bullet:2022 c:0063" +
	" cacute:0107 caron:02C7 ccaron:010D ccedilla:00E7 cedilla:00B8 cent:00A2 checkmark:2713" +
	" chi:03C7 circle:25CB circumflex:02C6 club:2663 colon:003A comma:002C copyright:00A9" +
	" copyrightsans:00A9 currency:00A4 d:0064 dagger:2020 daggerdbl:2021 dcaron:010F" +
	" degree:00B0 delta:03B4 diamond:2666 dieresis:00A8 dieresistonos:0385 divide:00F7" +
	" dollar:0024 dotaccent:02D9 dotlessi:0131 dotlessj:0237 e:0065 eacute:00E9 ecaron:011B" +
	" ecircumflex:00EA edieresis:00EB egrave:00E8 eight:0038 ellipsis:2026 emacron:0113" +
	" emdash:2014 endash:2013 eogonek:0119 epsilon:03B5 equal:003D estimated:212E eta:03B7" +
	" eth:00F0 exclam:0021 exclamdbl:203C exclamdown:00A1 f:0066 ff:FB00 ffi:FB03 ffl:FB04" +
	" fi:FB01 figuredash:2012 filledbox:25A0 five:0035 fl:FB02 florin:0192 four:0034" +
	" fraction:2044 g:0067 gamma:03B3 gbreve:011F germandbls:00DF grave:0060 greater:003E" +
	" greaterequal:2265 guillemotleft:00AB guillemotright:00BB guilsinglleft:2039" +
	" guilsinglright:203A h:0068 heart:2665 hungarumlaut:02DD hyphen:002D hyphenminus:002D" +
	" hyphentwo:2010 i:0069 iacute:00ED icircumflex:00EE idieresis:00EF igrave:00EC" +
	" imacron:012B infinity:221E integral:222B j:006A k:006B kappa:03BA l:006C lambda:03BB" +
	" less:003C lessequal:2264 logicalnot:00AC lozenge:25CA lslash:0142 m:006D macron:00AF" +
	" middot:00B7 minus:2212 minute:2032 mu:00B5 mu1:00B5 multiply:00D7 n:006E nacute:0144" +
	" nbsp:00A0 nbspace:00A0 ncaron:0148 nine:0039 nonbreakingspace:00A0 notequal:2260" +
	" ntilde:00F1 nu:03BD numbersign:0023 numero:2116 o:006F oacute:00F3 ocircumflex:00F4" +
	" odieresis:00F6 oe:0153 ogonek:02DB ograve:00F2 ohungarumlaut:0151 omacron:014D omega:03C9" +
	" one:0031 onedotenleader:2024 onehalf:00BD onequarter:00BC onesuperior:00B9" +
	" openbullet:25E6 ordfeminine:00AA ordmasculine:00BA oslash:00F8 otilde:00F5 p:0070" +
	" paragraph:00B6 parenleft:0028 parenright:0029 partialdiff:2202 percent:0025 period:002E" +
	" periodcentered:00B7 perthousand:2030 phi:03C6 pi:03C0 plus:002B plusminus:00B1" +
	" product:220F psi:03C8 q:0071 question:003F questiondown:00BF quotedbl:0022" +
	" quotedblbase:201E quotedblleft:201C quotedblright:201D quoteleft:2018" +
	" quoteleftreversed:201B quoteright:2019 quotesinglbase:201A quotesingle:0027 r:0072" +
	" radical:221A rcaron:0159 registered:00AE registersans:00AE rho:03C1 ring:02DA s:0073" +
	" sacute:015B scaron:0161 scedilla:015F second:2033 section:00A7 semicolon:003B seven:0037" +
	" sfthyphen:00AD sigma:03C3 six:0036 slash:002F softhyphen:00AD space:0020 space.alt:0020" +
	" spade:2660 sterling:00A3 summation:2211 t:0074 tau:03C4 tcaron:0165 theta:03B8 thorn:00FE" +
	" three:0033 threequarters:00BE threesuperior:00B3 tilde:02DC tonos:0384 trademark:2122" +
	" trademarksans:2122 triagrt:25BA two:0032 twodotenleader:2025 twosuperior:00B2 u:0075" +
	" uacute:00FA ucircumflex:00FB udieresis:00FC ugrave:00F9 uhungarumlaut:0171 umacron:016B" +
	" underscore:005F underscoredbl:2017 uni00A0:00A0 uni2010:2010 uring:016F v:0076 w:0077" +
	" x:0078 xi:03BE y:0079 yacute:00FD ydieresis:00FF yen:00A5 z:007A zacute:017A zcaron:017E" +
	" zdotaccent:017C zero:0030 zeta:03B6" + " "

// glyphRune maps a glyph name to its character.
func glyphRune(name string) (rune, bool) {
	i := strings.Index(glyphList, " "+name+":")
	if i < 0 {
		return 0, false
	}
	hex := glyphList[i+len(name)+2:]
	var r rune
	for j := 0; j < len(hex) && hex[j] != ' '; j++ {
		v, ok := hexVal(hex[j])
		if !ok {
			return 0, false
		}
		r = r<<4 | rune(v)
	}
	return r, true
}

// standardRune maps a byte in Adobe StandardEncoding (the default encoding of
// Type 1 fonts) to its character, 0 when the code is unused.
func standardRune(c byte) rune {
	switch {
	case c == 0x27:
		return 0x2019
	case c == 0x60:
		return 0x2018
	case c >= 0x20 && c < 0x7F:
		return rune(c)
	}
	switch c {
	case 0xA1:
		return 0x00A1
	case 0xA2:
		return 0x00A2
	case 0xA3:
		return 0x00A3
	case 0xA4:
		return 0x2044
	case 0xA5:
		return 0x00A5
	case 0xA6:
		return 0x0192
	case 0xA7:
		return 0x00A7
	case 0xA8:
		return 0x00A4
	case 0xA9:
		return 0x0027
	case 0xAA:
		return 0x201C
	case 0xAB:
		return 0x00AB
	case 0xAC:
		return 0x2039
	case 0xAD:
		return 0x203A
	case 0xAE:
		return 0xFB01
	case 0xAF:
		return 0xFB02
	case 0xB1:
		return 0x2013
	case 0xB2:
		return 0x2020
	case 0xB3:
		return 0x2021
	case 0xB4:
		return 0x00B7
	case 0xB6:
		return 0x00B6
	case 0xB7:
		return 0x2022
	case 0xB8:
		return 0x201A
	case 0xB9:
		return 0x201E
	case 0xBA:
		return 0x201D
	case 0xBB:
		return 0x00BB
	case 0xBC:
		return 0x2026
	case 0xBD:
		return 0x2030
	case 0xBF:
		return 0x00BF
	case 0xC1:
		return 0x0060
	case 0xC2:
		return 0x00B4
	case 0xC3:
		return 0x02C6
	case 0xC4:
		return 0x02DC
	case 0xC5:
		return 0x00AF
	case 0xC6:
		return 0x02D8
	case 0xC7:
		return 0x02D9
	case 0xC8:
		return 0x00A8
	case 0xCA:
		return 0x02DA
	case 0xCB:
		return 0x00B8
	case 0xCD:
		return 0x02DD
	case 0xCE:
		return 0x02DB
	case 0xCF:
		return 0x02C7
	case 0xD0:
		return 0x2014
	case 0xE1:
		return 0x00C6
	case 0xE3:
		return 0x00AA
	case 0xE8:
		return 0x0141
	case 0xE9:
		return 0x00D8
	case 0xEA:
		return 0x0152
	case 0xEB:
		return 0x00BA
	case 0xF1:
		return 0x00E6
	case 0xF5:
		return 0x0131
	case 0xF8:
		return 0x0142
	case 0xF9:
		return 0x00F8
	case 0xFA:
		return 0x0153
	case 0xFB:
		return 0x00DF
	}
	return 0
}

// baseRune maps a byte through a named base encoding.
func baseRune(enc name, c byte) rune {
	switch enc {
	case "WinAnsiEncoding":
		if c == 0x7F || c < 0x20 {
			return 0
		}
		if r := charmap.Windows1252.DecodeByte(c); r != 0xFFFD {
			return r
		}
		return 0
	case "MacRomanEncoding", "MacExpertEncoding":
		if c < 0x20 || c == 0x7F {
			return 0
		}
		return charmap.Macintosh.DecodeByte(c)
	case "PDFDocEncoding":
		return docEncodingRune(c)
	case "Identity":
		return rune(c)
	}
	return standardRune(c)
}

// docEncodingRune decodes PDFDocEncoding, used by text strings such as the title.
func docEncodingRune(c byte) rune {
	switch c {
	case 0x80:
		return 0x2022
	case 0x81:
		return 0x2020
	case 0x82:
		return 0x2021
	case 0x83:
		return 0x2026
	case 0x84:
		return 0x2014
	case 0x85:
		return 0x2013
	case 0x8D:
		return 0x201C
	case 0x8E:
		return 0x201D
	case 0x8F:
		return 0x2018
	case 0x90:
		return 0x2019
	case 0x93:
		return 0xFB01
	case 0x94:
		return 0xFB02
	case 0xA0:
		return 0x20AC
	}
	return rune(c)
}

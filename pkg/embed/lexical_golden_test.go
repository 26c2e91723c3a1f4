package embed_test

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/youworker/youworker/pkg/corpustest"
	"github.com/youworker/youworker/pkg/embed"
)

// The golden tests pin the exact bits of lexical-v1 vectors. Indexes store
// vectors made by earlier builds, so an optimisation of the embedder must not
// change a single bit; a deliberate change of the algorithm needs a new
// identity name (lexical-v2) and then new hashes here.

// goldenDims covers the smallest and largest dimensions allowed, the
// default, and sizes that are not powers of two (bucket index scaling).
var goldenDims = []int{16, 100, 384, 1000, 65536}

// goldenInline maps each of goldenDims to the hash of goldenTexts().
var goldenInline = map[int]string{
	16:    "ec3d430d64924eddccf47af2f9179a8bb9104026e10fe8b44debc69e4825b1ea",
	100:   "a31157cf860b3557b13d1b101a5cdd1686a5793744b3eb2490519e2c1c351661",
	384:   "47615d43be1707ea6fe2657d4c84bd395b7bcb0df974029f29076ea9a59d6669",
	1000:  "a2c15b88589e17c20822b0549601faae0d4929461459167e8c51f47418891a25",
	65536: "647f4a482f0b1e3c0340023734b89bd6cf809a3ffa7509a49d6a807778c4859a",
}

// goldenCorpus maps each of goldenDims to the hash of goldenCorpusTexts().
var goldenCorpus = map[int]string{
	16:    "55df8ed29c1488792fad8c95376e58aa0f66feef9fb99b1942b8fb5dc074fc3c",
	100:   "83d4b7d96d5a027e4557be832807c53ae32fd32c56d10853431ee2a137346f9b",
	384:   "20eade41026fde4e4cda35f8c1c8352a53fd05737f1b6a644b3af1e00d62dcaa",
	1000:  "fb015f3a0d07dd723d11d4ebd7c7bcf703fa97cfbc7165c8880c42ba0aec949a",
	65536: "e2d71a9af830fbc609f3b54ce53d600535e5b07e92b823746f4f656930f8559a",
}

// goldenTexts returns hand-picked edge cases plus generated noise that mixes
// every path of the tokeniser.
func goldenTexts() []string {
	texts := []string{
		"",
		" ",
		"   \n\t\r",
		"—, …!?",
		"the of and",
		"The the THE a an de la der die das",
		"Norwich City Football Club plays at Carrow Road, Norfolk.",
		"Running runners ran; studies, studying, studied. Classes passes bus status analysis.",
		"dies lies ties flies cries abyss boss kiss glass needed seed bed fed bred thing things sing",
		"plays played playing player players replayed",
		"2024-05-17 10:30 v1.2.3 ISO9001 42 007 3.14159 1e10 0x1F abc123 123abc",
		"1234567890123456789012345678901234567890123456789",
		"café crème brûlée naïve façade Ångström Øresund Łódź Đà Nẵng Nguyễn Việt",
		"cafe\u0301 cre\u0300me e\u0308 a\u030a o\u0303\u0301",
		"Fußball STRAẞE Æsir Œuvre œuvre æther ß",
		"İstanbul ıiIİ ǅemal ǈ ǋ Ǳ",
		"Αθήνα ελληνικά ΆΈΉΊΌΎΏ άέήίόύώ ϊϋΐΰ ς",
		"Москва город Санкт-Петербург ёлка йогурт Ёжик Українська мова ґ",
		"مرحبا بالعالم العربية",
		"שלום עולם",
		"हिन्दी भाषा नमस्ते",
		"北京是中华人民共和国的首都，也是全国的政治、文化和国际交往中心。",
		"東京は日本の首都であり、世界有数の大都市です。カタカナ ㇰㇱ",
		"한국어 텍스트 서울특별시",
		"ภาษาไทย สวัสดี ລາວ",
		"𠀀𠀁𪜀 漢字𠮷",
		"ＮＯＲＷＩＣＨ ｆｏｏｔｂａｌｌ １２３ ！？",
		"emoji 😀😃 👩‍👩‍👧 🇬🇧 ❤️ ✓ text👍word",
		"\xff\xfe\x00 invalid \xc3\x28 bytes \xe2\x82 \xf0\x9f\x98 \xed\xa0\x80 \xc0\xaf end",
		"\x00\x01\x02\x03 control \x7f chars",
		"\ufeffBOM\u200bzero\u200dwidth\u00a0nbsp\u2028line",
		strings.Repeat("a", 39) + " " + strings.Repeat("b", 40) + " " + strings.Repeat("c", 41),
		strings.Repeat("supercalifragilisticexpialidocious", 10),
		strings.Repeat("é", 60) + " " + strings.Repeat("ж", 45),
		strings.Repeat("word ", 5000),
		strings.Repeat("the and of ", 300),
		"abcd abcde abcdef ings eds ied ies sses ss us is s",
		"Verspätung der Züge Zugverspätungen Köln Frankfurt",
		"mixedCase CamelCaseWord snake_case kebab-case dotted.name path/to/file email@example.com",
		"AB", "a", "x", "Q",
	}
	for _, k := range slices.Sorted(maps.Keys(corpus)) {
		texts = append(texts, corpus[k])
	}
	// Seeded noise from a fixed generator (not math/rand, whose streams are
	// not promised to stay the same across Go releases).
	alphabet := []rune("aAbBeEsSiIdDgGnNzZ09 ,.-'\t\néÉèçÇøßæœıİǅжЖйЙαΆώ北京東のカ한ไ\u0301\u0308ＡｚＺ１😀\ufffd")
	state := uint64(0x2545f4914f6cdd1d)
	next := func() uint64 {
		state ^= state << 13
		state ^= state >> 7
		state ^= state << 17
		return state
	}
	for range 300 {
		n := int(next() % 200)
		var sb strings.Builder
		for range n {
			switch r := next(); r % 50 {
			case 0:
				sb.WriteByte(byte(r >> 8)) // raw byte: often invalid UTF-8
			default:
				sb.WriteRune(alphabet[(r>>8)%uint64(len(alphabet))])
			}
		}
		texts = append(texts, sb.String())
	}
	return texts
}

// goldenCorpusTexts returns real documents of the shared corpus, whole and
// cut into paragraphs the way chunks reach the embedder.
func goldenCorpusTexts(t *testing.T) []string {
	t.Helper()
	var texts []string
	for _, name := range []string{
		"UDHR_first_article_all.txt", // one paragraph in hundreds of languages and scripts
		"norwich-city.txt",
		"book-war-and-peace-1p.txt",
		"fake-text.txt",
		"fake-text-utf-16-le.txt", // not UTF-8: exercises invalid input
		"sample-readme.md",
		"codeblock.md",
		"umlauts-non-utf8.md",
	} {
		text := string(corpustest.Read(t, name))
		texts = append(texts, text)
		texts = append(texts, strings.Split(text, "\n\n")...)
	}
	return texts
}

// vectorsHash is a SHA-256 over the float32 bits of every vector, in order.
func vectorsHash(vecs [][]float32) string {
	h := sha256.New()
	for _, v := range vecs {
		// IEEE 754 bits, little-endian: -0 and +0 hash differently.
		if err := binary.Write(h, binary.LittleEndian, v); err != nil {
			panic(err)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

func sameBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

func checkGolden(t *testing.T, texts []string, want map[int]string) {
	t.Helper()
	for _, dim := range goldenDims {
		t.Run(fmt.Sprint(dim), func(t *testing.T) {
			l, err := embed.NewLexical(dim)
			require.NoError(t, err)
			vecs, err := l.Embed(t.Context(), texts)
			require.NoError(t, err)
			require.Len(t, vecs, len(texts))
			// One text at a time must give the same bits as the batch
			// (checked at the smaller dimensions only, to keep -race fast).
			for i, s := range texts {
				if dim > 1000 {
					break
				}
				one, err := l.Embed(t.Context(), []string{s})
				require.NoError(t, err)
				require.True(t, sameBits(vecs[i], one[0]), "text %d embedded alone", i)
			}
			require.Equal(t, want[dim], vectorsHash(vecs), "lexical-v1 vectors changed at dimension %d", dim)
		})
	}
}

func TestLexicalGoldenInline(t *testing.T) {
	t.Parallel()
	checkGolden(t, goldenTexts(), goldenInline)
}

func TestLexicalGoldenCorpus(t *testing.T) {
	t.Parallel()
	checkGolden(t, goldenCorpusTexts(t), goldenCorpus)
}

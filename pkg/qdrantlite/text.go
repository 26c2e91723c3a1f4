package qdrantlite

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/qdrant/go-client/qdrant"
)

// textMeta is the persisted form of a full-text index's tokenizer settings.
// Every field is optional so that index entries written before full-text
// matching existed load with Qdrant's defaults (word tokenizer, lowercase).
type textMeta struct {
	Tokenizer   int32   `json:"tokenizer,omitempty"`
	Lowercase   *bool   `json:"lowercase,omitempty"`
	MinTokenLen *uint64 `json:"min_token_len,omitempty"`
	MaxTokenLen *uint64 `json:"max_token_len,omitempty"`
}

func textMetaFrom(p *qdrant.TextIndexParams) *textMeta {
	if p == nil {
		return nil
	}
	return &textMeta{Tokenizer: int32(p.GetTokenizer()), Lowercase: p.Lowercase, MinTokenLen: p.MinTokenLen, MaxTokenLen: p.MaxTokenLen}
}

func (m *textMeta) proto() *qdrant.TextIndexParams {
	if m == nil {
		return nil
	}
	return &qdrant.TextIndexParams{Tokenizer: qdrant.TokenizerType(m.Tokenizer), Lowercase: m.Lowercase, MinTokenLen: m.MinTokenLen, MaxTokenLen: m.MaxTokenLen}
}

// tokenizer splits text into the tokens a Qdrant full-text index holds. With
// such an index, match text, text_any and phrase compare words, not
// substrings: "art" does not match "party", "Party" matches "party".
type tokenizer struct {
	kind      qdrant.TokenizerType
	lowercase bool
	minLen    int
	maxLen    int // 0: no limit
}

func newTokenizer(m *textMeta) tokenizer {
	t := tokenizer{kind: qdrant.TokenizerType_Word, lowercase: true}
	if m == nil {
		return t
	}
	if k := qdrant.TokenizerType(m.Tokenizer); k != qdrant.TokenizerType_Unknown {
		t.kind = k
	}
	if m.Lowercase != nil {
		t.lowercase = *m.Lowercase
	}
	if m.MinTokenLen != nil {
		t.minLen = int(*m.MinTokenLen)
	}
	if m.MaxTokenLen != nil {
		t.maxLen = int(*m.MaxTokenLen)
	}
	return t
}

// words splits on what Qdrant's tokenizers split on: whitespace for the
// whitespace tokenizer, anything not a letter or digit otherwise (the
// multilingual tokenizer's dictionary segmentation is not reproduced).
func (t tokenizer) words(s string) []string {
	if t.kind == qdrant.TokenizerType_Whitespace {
		return strings.Fields(s)
	}
	return strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsNumber(r) })
}

// token normalises one word; ok is false when it is dropped for its length.
func (t tokenizer) token(w string, checkMax bool) (string, bool) {
	if w == "" {
		return "", false
	}
	if t.lowercase {
		w = strings.ToLower(w)
	}
	n := utf8.RuneCountInString(w)
	if n < t.minLen || (checkMax && t.maxLen > 0 && n > t.maxLen) {
		return "", false
	}
	return w, true
}

// query tokenizes the text of a match condition, in order.
func (t tokenizer) query(s string) []string {
	var out []string
	for _, w := range t.words(s) {
		if tok, ok := t.token(w, t.kind != qdrant.TokenizerType_Prefix); ok {
			out = append(out, tok)
		}
	}
	return out
}

// document tokenizes a stored value, in order. The prefix tokenizer indexes
// every prefix of each word, so a query word matches words it begins.
func (t tokenizer) document(s string) []string {
	if t.kind != qdrant.TokenizerType_Prefix {
		return t.query(s)
	}
	var out []string
	for _, w := range t.words(s) {
		tok, ok := t.token(w, false)
		if !ok {
			continue
		}
		runes := []rune(tok)
		lo := max(t.minLen, 1)
		hi := len(runes)
		if t.maxLen > 0 {
			hi = min(hi, t.maxLen)
		}
		for n := lo; n <= hi; n++ {
			out = append(out, string(runes[:n]))
		}
	}
	return out
}

// textCheck returns a check of one stored value against a full-text match
// through an index with this tokenizer. Values that are not strings (or
// arrays of strings) never match.
func (t tokenizer) textCheck(m *qdrant.Match) func(v any) bool {
	var q []string
	var kind int
	switch x := m.GetMatchValue().(type) {
	case *qdrant.Match_Text:
		q, kind = t.query(x.Text), 0
	case *qdrant.Match_TextAny:
		q, kind = t.query(x.TextAny), 1
	case *qdrant.Match_Phrase:
		q, kind = t.query(x.Phrase), 2
	default:
		return nil
	}
	one := func(s string) bool {
		doc := t.document(s)
		switch kind {
		case 0:
			for _, w := range q {
				if !slices.Contains(doc, w) {
					return false
				}
			}
			return true
		case 1:
			for _, w := range q {
				if slices.Contains(doc, w) {
					return true
				}
			}
			return false
		default:
			return hasPhrase(doc, q)
		}
	}
	return func(v any) bool {
		for _, e := range flattenOne(v) {
			if s, ok := e.(string); ok && one(s) {
				return true
			}
		}
		return false
	}
}

func hasPhrase(doc, q []string) bool {
	if len(q) == 0 {
		return true
	}
	for i := 0; i+len(q) <= len(doc); i++ {
		if slices.Equal(doc[i:i+len(q)], q) {
			return true
		}
	}
	return false
}

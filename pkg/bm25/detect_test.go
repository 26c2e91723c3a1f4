package bm25

import (
	"bufio"
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/youworker/youworker/pkg/corpustest"
)

func TestStopLists(t *testing.T) {
	t.Parallel()
	for i, list := range stopLists {
		t.Run(languages[i], func(t *testing.T) {
			t.Parallel()
			require.GreaterOrEqual(t, len(list), 100)
			require.LessOrEqual(t, len(list), 200)
			seen := map[string]bool{}
			for _, w := range list {
				require.False(t, seen[w], "duplicate %q", w)
				seen[w] = true
				// Written as the analyser sees it, or it would never match.
				require.Equal(t, []tokenText{{w, kindWord}}, tokens(w), "entry %q", w)
			}
		})
	}
}

// udhr returns article 1 of the Universal Declaration of Human Rights in the
// language whose heading in the shared corpus file is name.
func udhr(t *testing.T, name string) string {
	t.Helper()
	data := corpustest.Read(t, "UDHR_first_article_all.txt")
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == name && sc.Scan() {
			return sc.Text()
		}
	}
	t.Fatalf("no %q paragraph", name)
	return ""
}

func TestDetect(t *testing.T) {
	t.Parallel()
	paragraphs := []struct {
		heading string
		want    string
	}{
		{"English", "en"},
		{"Italian", "it"},
		{"German, Standard (1996)", "de"},
		{"French", "fr"},
		{"Spanish", "es"},
		{"Japanese", ""},
		{"Russian", ""},
	}
	e := newEncoder(t, Params{})
	for _, p := range paragraphs {
		t.Run(p.heading, func(t *testing.T) {
			t.Parallel()
			sc := newScratch()
			require.Equal(t, p.want, languageName(e.analyze(sc, udhr(t, p.heading))))
		})
	}
	texts := []struct {
		name, text, want string
	}{
		{"one stop word is not enough", "contratti di fornitura", ""},
		{"german word in english", "die hard", ""},
		{"short english query", "what is the notice period", "en"},
		{"short italian query", "qual è il periodo di preavviso", "it"},
		{"short german query", "wie lange ist die Kündigungsfrist", "de"},
		{"romance languages share words: no clear winner", "la casa de la playa", ""},
		{"identifiers only", "RFC-7231 v1.17 10.0.0.1", ""},
		{"empty", "", ""},
	}
	for _, tt := range texts {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, languageName(e.analyze(newScratch(), tt.text)))
		})
	}
}

func TestForcedLanguage(t *testing.T) {
	t.Parallel()
	// English text forced to Italian: Italian stop words ("a") go, English
	// ones ("the") stay, and the Italian stemmer runs.
	e := newEncoder(t, Params{Language: "it"})
	require.Equal(t, []string{"\x01contratti", "contratt", "the"}, docTerms(e, "the contratti a"))
}

// languageName is the code of language index i, "" for noLanguage.
func languageName(i int) string {
	if i == noLanguage {
		return ""
	}
	return languages[i]
}

func TestLanguagesOrder(t *testing.T) {
	t.Parallel()
	// Stem cache keys and the English fallback for documents depend on
	// this order.
	require.Equal(t, []string{"en", "it", "de", "fr", "es"}, slices.Clone(languages[:]))
}

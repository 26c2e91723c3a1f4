package bm25

// Matcher tells how many of a query's terms a piece of text contains, with
// the same analysis as [Encoder.Query], so that "contracts" in a sentence
// matches "contract" in the query. It is safe for concurrent use.
type Matcher struct {
	e      *Encoder
	lang   int            // the query's language, or noLanguage
	groups map[uint32]int // term id → index of the query term it stands for
	n      int
}

// Matcher returns a Matcher for the distinct terms of query. In an
// undetected query, a word's stems in the different languages are one term:
// a sentence that contains any of them contains the word.
func (e *Encoder) Matcher(query string) *Matcher {
	sc := e.get()
	defer e.put(sc)
	m := &Matcher{e: e, lang: e.analyze(sc, query), groups: make(map[uint32]int)}
	for _, t := range sc.tokens {
		if m.lang != noLanguage || t.kind != kindWord {
			if id, ok := e.termID(sc, t, docLanguage(m.lang)); ok {
				if _, dup := m.groups[id]; !dup {
					m.groups[id] = m.n
					m.n++
				}
			}
			continue
		}
		var variants [len(languages)]uint32
		n, _ := e.variants(sc, t, &variants)
		if n == 0 {
			continue
		}
		// Words that share a stem are one term ("contratto", "contratti"):
		// join their groups.
		g := -1
		for _, id := range variants[:n] {
			if old, ok := m.groups[id]; ok && (g < 0 || old < g) {
				g = old
			}
		}
		if g < 0 {
			g = m.n
			m.n++
		}
		for _, id := range variants[:n] {
			if old, ok := m.groups[id]; ok && old != g {
				m.relabel(old, g)
			}
			m.groups[id] = g
		}
	}
	m.compact()
	return m
}

// relabel moves every id of group from to group to.
func (m *Matcher) relabel(from, to int) {
	for id, g := range m.groups {
		if g == from {
			m.groups[id] = to
		}
	}
}

// compact renumbers the groups 0..n-1 after merges left gaps.
func (m *Matcher) compact() {
	renum := make(map[int]int, m.n)
	for _, g := range m.groups {
		if _, ok := renum[g]; !ok {
			renum[g] = len(renum)
		}
	}
	for id, g := range m.groups {
		m.groups[id] = renum[g]
	}
	m.n = len(renum)
}

// Len returns the number of distinct query terms; 0 means there is nothing
// to match.
func (m *Matcher) Len() int { return m.n }

// Count returns how many distinct query terms text contains.
func (m *Matcher) Count(text string) int {
	if m.n == 0 {
		return 0
	}
	e := m.e
	sc := e.get()
	defer e.put(sc)
	sc.analyze(text, e.stop)
	seen := sc.seen[:0]
	for range m.n {
		seen = append(seen, false)
	}
	sc.seen = seen
	count := 0
	mark := func(id uint32) {
		if g, ok := m.groups[id]; ok && !seen[g] {
			seen[g] = true
			count++
		}
	}
	for _, t := range sc.tokens {
		if m.lang != noLanguage || t.kind != kindWord {
			if id, ok := e.termID(sc, t, docLanguage(m.lang)); ok {
				mark(id)
			}
			continue
		}
		var variants [len(languages)]uint32
		n, _ := e.variants(sc, t, &variants)
		for _, id := range variants[:n] {
			mark(id)
		}
	}
	return count
}

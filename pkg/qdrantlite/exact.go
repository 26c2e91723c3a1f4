package qdrantlite

import "github.com/qdrant/go-client/qdrant"

// exactFilter answers a filter from the payload indexes alone when every
// condition in it is an index-backed match (keyword, integer or bool on an
// indexed field of that type), a has_id, or a nested filter of those. The
// authorization filter has exactly this shape, so the common search never
// touches payloads: the filter costs a few word-wise bitmap operations.
// ok is false when some condition needs the payload.
func (c *collection) exactFilter(f *qdrant.Filter) (bitmap, bool) {
	if f == nil || f.MinShould != nil {
		return nil, false
	}
	words := (len(c.keys) + 63) / 64
	var acc bitmap
	for _, cond := range f.GetMust() {
		bm, ok := c.exactCond(cond)
		if !ok {
			return nil, false
		}
		if acc == nil {
			acc = bm
			continue
		}
		for i := range acc {
			acc[i] &= bm[i]
		}
	}
	if len(f.GetShould()) > 0 {
		union := make(bitmap, words)
		for _, cond := range f.GetShould() {
			bm, ok := c.exactCond(cond)
			if !ok {
				return nil, false
			}
			for i := range union {
				union[i] |= bm[i]
			}
		}
		if acc == nil {
			acc = union
		} else {
			for i := range acc {
				acc[i] &= union[i]
			}
		}
	}
	if acc == nil {
		acc = c.aliveBitmap()
	}
	for _, cond := range f.GetMustNot() {
		bm, ok := c.exactCond(cond)
		if !ok {
			return nil, false
		}
		for i := range acc {
			acc[i] &^= bm[i]
		}
	}
	return acc, true
}

func (c *collection) aliveBitmap() bitmap {
	bm := newBitmap(len(c.keys))
	for s, ok := range c.alive {
		if ok {
			bm.set(uint32(s))
		}
	}
	return bm
}

func (c *collection) exactCond(cond *qdrant.Condition) (bitmap, bool) {
	switch x := cond.GetConditionOneOf().(type) {
	case *qdrant.Condition_Filter:
		if x.Filter == nil || (len(x.Filter.Must) == 0 && len(x.Filter.Should) == 0 && len(x.Filter.MustNot) == 0 && x.Filter.MinShould == nil) {
			return c.aliveBitmap(), true
		}
		return c.exactFilter(x.Filter)
	case *qdrant.Condition_HasId:
		bm := newBitmap(len(c.keys))
		for _, id := range x.HasId.GetHasId() {
			k, err := keyFromProto(id)
			if err != nil {
				return nil, false
			}
			if s, ok := c.byKey[k]; ok {
				bm.set(s)
			}
		}
		return bm, true
	case *qdrant.Condition_Field:
		fc := x.Field
		ix := c.indexes[fc.GetKey()]
		if ix == nil || !matchOnly(fc) {
			return nil, false
		}
		p := ix.planMatch(fc.GetMatch())
		if p.all {
			return nil, false
		}
		bm := newBitmap(len(c.keys))
		for _, l := range p.lists {
			l.orInto(bm)
		}
		return bm, true
	}
	return nil, false
}

// forMatches calls fn for every live slot matching the filter, using the
// indexes exactly when possible and otherwise checking the payload of each
// candidate the indexes let through.
func (c *collection) forMatches(f *qdrant.Filter, fn func(s uint32)) error {
	if f == nil {
		for s, ok := range c.alive {
			if ok {
				fn(uint32(s))
			}
		}
		return nil
	}
	if bm, ok := c.exactFilter(f); ok {
		bm.each(fn)
		return nil
	}
	match, err := compileFilter(f, false, c.filterEnv())
	if err != nil {
		return errWrongInput("%v", err)
	}
	c.candidates(c.planFilter(f), func(s uint32) {
		if match(c.keys[s], c.payloads[s]) {
			fn(s)
		}
	})
	return nil
}

// filterBitmap returns the live slots matching a filter (all live slots for
// none) as a bitmap the caller owns: exactly from the indexes when they can
// answer it, else by checking the payloads of the candidates they let
// through.
func (c *collection) filterBitmap(f *qdrant.Filter) (bitmap, error) {
	if f == nil {
		return c.aliveBitmap(), nil
	}
	if bm, ok := c.exactFilter(f); ok {
		return bm, nil
	}
	bm := newBitmap(len(c.keys))
	if err := c.forMatches(f, bm.set); err != nil {
		return nil, err
	}
	return bm, nil
}

// filterEnv gives the filter compiler the collection's full-text indexes.
func (c *collection) filterEnv() filterEnv {
	env := filterEnv{hasVector: c.hasVector}
	for field, ix := range c.indexes {
		if ix.schema != qdrant.PayloadSchemaType_Text {
			continue
		}
		p, err := parsePath(field)
		if err != nil {
			continue
		}
		if env.text == nil {
			env.text = make(map[string]tokenizer)
		}
		env.text[p.String()] = newTokenizer(ix.text)
	}
	return env
}

// hasVector is Qdrant's has_vector: every point holds the dense vector (""),
// a point holds a sparse vector only when one was written for it, and no
// point holds a vector of a name the collection does not have.
func (c *collection) hasVector(name string) func(pointKey) bool {
	if name == "" {
		return func(pointKey) bool { return true }
	}
	ix, ok := c.sparse[name]
	if !ok {
		return func(pointKey) bool { return false }
	}
	return func(k pointKey) bool {
		s, ok := c.byKey[k]
		return ok && ix.doc(s) != nil
	}
}

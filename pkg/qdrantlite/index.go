package qdrantlite

import (
	"math/bits"

	"github.com/qdrant/go-client/qdrant"
)

// postings is the set of slots holding one value of an indexed field. Small
// sets are maps (O(1) insert and delete, little memory for the many values of
// high-cardinality fields such as document_id); once a set grows past
// bitmapThreshold it becomes a bitmap, so combining the big sets of
// low-cardinality fields (private, group_id) is word-wise AND/OR.
type postings struct {
	n     int
	small map[uint32]struct{}
	bits  bitmap
}

const bitmapThreshold = 512

func (p *postings) add(s uint32) {
	if p.bits != nil {
		if int(s>>6) >= len(p.bits) {
			p.bits = append(p.bits, make(bitmap, int(s>>6)+1-len(p.bits))...)
		}
		if !p.bits.has(s) {
			p.bits.set(s)
			p.n++
		}
		return
	}
	if p.small == nil {
		p.small = make(map[uint32]struct{})
	}
	if _, ok := p.small[s]; ok {
		return
	}
	p.small[s] = struct{}{}
	p.n++
	if p.n >= bitmapThreshold {
		var maxSlot uint32
		for k := range p.small {
			maxSlot = max(maxSlot, k)
		}
		p.bits = newBitmap(int(maxSlot) + 1)
		for k := range p.small {
			p.bits.set(k)
		}
		p.small = nil
	}
}

func (p *postings) remove(s uint32) {
	if p.bits != nil {
		if p.bits.has(s) {
			p.bits[s>>6] &^= 1 << (s & 63)
			p.n--
		}
		return
	}
	if _, ok := p.small[s]; ok {
		delete(p.small, s)
		p.n--
	}
}

// orInto adds every slot of p to bm, which covers all slots.
func (p *postings) orInto(bm bitmap) {
	if p.bits != nil {
		for i, w := range p.bits {
			bm[i] |= w
		}
		return
	}
	for s := range p.small {
		bm.set(s)
	}
}

// fieldIndex is an inverted index over one payload field. Keyword (and uuid)
// indexes hold strings, integer indexes hold integers, bool indexes hold
// booleans; other index types are recorded for collection info only.
type fieldIndex struct {
	schema   qdrant.PayloadSchemaType
	isTenant bool
	text     *textMeta
	kw       map[string]*postings
	ints     map[int64]*postings
	bools    [2]*postings
}

func newFieldIndex(schema qdrant.PayloadSchemaType, isTenant bool, text *textMeta) *fieldIndex {
	return &fieldIndex{
		schema:   schema,
		isTenant: isTenant,
		text:     text,
		kw:       make(map[string]*postings),
		ints:     make(map[int64]*postings),
		bools:    [2]*postings{{}, {}},
	}
}

func schemaForFieldType(t qdrant.FieldType) qdrant.PayloadSchemaType {
	switch t {
	case qdrant.FieldType_FieldTypeKeyword:
		return qdrant.PayloadSchemaType_Keyword
	case qdrant.FieldType_FieldTypeInteger:
		return qdrant.PayloadSchemaType_Integer
	case qdrant.FieldType_FieldTypeFloat:
		return qdrant.PayloadSchemaType_Float
	case qdrant.FieldType_FieldTypeGeo:
		return qdrant.PayloadSchemaType_Geo
	case qdrant.FieldType_FieldTypeText:
		return qdrant.PayloadSchemaType_Text
	case qdrant.FieldType_FieldTypeBool:
		return qdrant.PayloadSchemaType_Bool
	case qdrant.FieldType_FieldTypeDatetime:
		return qdrant.PayloadSchemaType_Datetime
	case qdrant.FieldType_FieldTypeUuid:
		return qdrant.PayloadSchemaType_Uuid
	}
	return qdrant.PayloadSchemaType_UnknownType
}

func (ix *fieldIndex) isKeyword() bool {
	return ix.schema == qdrant.PayloadSchemaType_Keyword || ix.schema == qdrant.PayloadSchemaType_Uuid
}

// update moves a slot from the postings of its old values to those of its new
// values. vals come from lookup on the same key path the filter uses, so the
// index is always a superset of what the filter would match.
func (ix *fieldIndex) update(slot uint32, old, cur []any) {
	for _, v := range flatten(old) {
		ix.remove(slot, v)
	}
	for _, v := range flatten(cur) {
		ix.add(slot, v)
	}
}

func (ix *fieldIndex) add(slot uint32, v any) {
	switch x := v.(type) {
	case string:
		if ix.isKeyword() {
			p := ix.kw[x]
			if p == nil {
				p = &postings{}
				ix.kw[x] = p
			}
			p.add(slot)
		}
	case int64:
		if ix.schema == qdrant.PayloadSchemaType_Integer {
			p := ix.ints[x]
			if p == nil {
				p = &postings{}
				ix.ints[x] = p
			}
			p.add(slot)
		}
	case bool:
		if ix.schema == qdrant.PayloadSchemaType_Bool {
			ix.bools[b2i(x)].add(slot)
		}
	}
}

func (ix *fieldIndex) remove(slot uint32, v any) {
	switch x := v.(type) {
	case string:
		if p := ix.kw[x]; p != nil {
			p.remove(slot)
			if p.n == 0 {
				delete(ix.kw, x)
			}
		}
	case int64:
		if p := ix.ints[x]; p != nil {
			p.remove(slot)
			if p.n == 0 {
				delete(ix.ints, x)
			}
		}
	case bool:
		ix.bools[b2i(x)].remove(slot)
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// bitmap is a dense slot set used to combine postings of one query.
type bitmap []uint64

func newBitmap(n int) bitmap { return make(bitmap, (n+63)/64) }

func (b bitmap) set(i uint32) { b[i>>6] |= 1 << (i & 63) }

func (b bitmap) has(i uint32) bool { return int(i>>6) < len(b) && b[i>>6]&(1<<(i&63)) != 0 }

func (b bitmap) each(fn func(slot uint32)) {
	for wi, w := range b {
		for w != 0 {
			tz := bits.TrailingZeros64(w)
			fn(uint32(wi*64 + tz))
			w &= w - 1
		}
	}
}

// plan describes a candidate set for a filter: all points, or the union of
// some postings. Candidates are a superset of the matches; every candidate is
// still checked against the full filter.
type plan struct {
	all   bool
	est   int
	lists []*postings
	ids   []uint32
}

var planAll = plan{all: true}

func (p plan) union(o plan) plan {
	if p.all || o.all {
		return planAll
	}
	return plan{est: p.est + o.est, lists: append(append([]*postings(nil), p.lists...), o.lists...), ids: append(append([]uint32(nil), p.ids...), o.ids...)}
}

// planFilter picks the most selective indexed part of a filter: the smallest
// must, or the union of the should branches when every branch is indexed.
func (c *collection) planFilter(f *qdrant.Filter) plan {
	if f == nil {
		return planAll
	}
	best := planAll
	consider := func(p plan) {
		if !p.all && (best.all || p.est < best.est) {
			best = p
		}
	}
	for _, cond := range f.GetMust() {
		consider(c.planCond(cond))
	}
	if len(f.GetShould()) > 0 {
		consider(c.planUnion(f.GetShould()))
	}
	if ms := f.GetMinShould(); ms != nil && ms.GetMinCount() >= 1 {
		consider(c.planUnion(ms.GetConditions()))
	}
	return best
}

func (c *collection) planUnion(conds []*qdrant.Condition) plan {
	u := plan{}
	for _, cond := range conds {
		u = u.union(c.planCond(cond))
		if u.all {
			return planAll
		}
	}
	return u
}

func (c *collection) planCond(cond *qdrant.Condition) plan {
	switch x := cond.GetConditionOneOf().(type) {
	case *qdrant.Condition_Filter:
		return c.planFilter(x.Filter)
	case *qdrant.Condition_HasId:
		p := plan{}
		for _, id := range x.HasId.GetHasId() {
			if k, err := keyFromProto(id); err == nil {
				if s, ok := c.byKey[k]; ok {
					p.ids = append(p.ids, s)
				}
			}
		}
		p.est = len(p.ids)
		return p
	case *qdrant.Condition_Field:
		// Only a condition that is a match alone narrows the candidates: the
		// clauses of one condition are alternatives (see compileField).
		ix := c.indexes[x.Field.GetKey()]
		if ix == nil || !matchOnly(x.Field) {
			return planAll
		}
		return ix.planMatch(x.Field.GetMatch())
	}
	return planAll
}

func (ix *fieldIndex) planMatch(m *qdrant.Match) plan {
	p := plan{}
	addKW := func(s string) {
		if l := ix.kw[s]; l != nil {
			p.lists = append(p.lists, l)
			p.est += l.n
		}
	}
	addInt := func(i int64) {
		if l := ix.ints[i]; l != nil {
			p.lists = append(p.lists, l)
			p.est += l.n
		}
	}
	switch x := m.GetMatchValue().(type) {
	case *qdrant.Match_Keyword:
		if !ix.isKeyword() {
			return planAll
		}
		addKW(x.Keyword)
	case *qdrant.Match_Keywords:
		if !ix.isKeyword() {
			return planAll
		}
		for _, s := range x.Keywords.GetStrings() {
			addKW(s)
		}
	case *qdrant.Match_Integer:
		if ix.schema != qdrant.PayloadSchemaType_Integer {
			return planAll
		}
		addInt(x.Integer)
	case *qdrant.Match_Integers:
		if ix.schema != qdrant.PayloadSchemaType_Integer {
			return planAll
		}
		for _, i := range x.Integers.GetIntegers() {
			addInt(i)
		}
	case *qdrant.Match_Boolean:
		if ix.schema != qdrant.PayloadSchemaType_Bool {
			return planAll
		}
		l := ix.bools[b2i(x.Boolean)]
		p.lists = append(p.lists, l)
		p.est = l.n
	default:
		return planAll
	}
	return p
}

// candidates calls fn for every live slot in the plan, in slot order.
func (c *collection) candidates(p plan, fn func(slot uint32)) {
	if p.all {
		for s := range c.keys {
			if c.alive[s] {
				fn(uint32(s))
			}
		}
		return
	}
	bm := newBitmap(len(c.keys))
	for _, l := range p.lists {
		l.orInto(bm)
	}
	for _, s := range p.ids {
		bm.set(s)
	}
	bm.each(fn)
}

func (b bitmap) count() int {
	n := 0
	for _, w := range b {
		n += bits.OnesCount64(w)
	}
	return n
}

// appendRange appends to dst the offsets from lo of the slots set in
// [lo, hi).
func (b bitmap) appendRange(dst []int, lo, hi int) []int {
	for wi := lo >> 6; wi <= (hi-1)>>6 && wi < len(b); wi++ {
		w := b[wi]
		if first := wi << 6; first < lo {
			w &= ^uint64(0) << (lo - first)
		}
		if end := (wi + 1) << 6; end > hi {
			w &= ^uint64(0) >> (end - hi)
		}
		for w != 0 {
			dst = append(dst, wi<<6+bits.TrailingZeros64(w)-lo)
			w &= w - 1
		}
	}
	return dst
}

// matchOnly reports whether a field condition has a match and no other
// clause, the only shape the keyword, integer and bool indexes can answer.
func matchOnly(fc *qdrant.FieldCondition) bool {
	return fc.Match != nil && fc.Range == nil && fc.IsEmpty == nil && fc.IsNull == nil && fc.ValuesCount == nil &&
		fc.GeoBoundingBox == nil && fc.GeoRadius == nil && fc.GeoPolygon == nil && fc.DatetimeRange == nil
}

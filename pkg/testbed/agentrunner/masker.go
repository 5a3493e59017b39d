package agentrunner

import (
	"sort"
	"strings"
)

// masker mirrors the agent's value secret masker: every occurrence of every
// registered value is found (overlapping ones too), the ranges are merged
// when they overlap or touch, and each merged range becomes "***". Merging
// means two overlapping secrets can never leave a fragment of either visible,
// which is what "longest values first" aims at as well.
type masker struct {
	values map[string]struct{}
}

func newMasker() *masker { return &masker{values: map[string]struct{}{}} }

// add registers a value; empty values are ignored as the agent does. A
// multi-line value is kept whole, so it only ever matches a message that
// holds all of it.
func (m *masker) add(v string) {
	if v != "" {
		m.values[v] = struct{}{}
	}
}

func (m *masker) mask(s string) string {
	if s == "" || len(m.values) == 0 {
		return s
	}
	type span struct{ start, end int }
	var spans []span
	for v := range m.values {
		for from := 0; from <= len(s)-len(v); {
			i := strings.Index(s[from:], v)
			if i < 0 {
				break
			}
			spans = append(spans, span{from + i, from + i + len(v)})
			from += i + 1
		}
	}
	if len(spans) == 0 {
		return s
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].start < spans[j].start })
	var b strings.Builder
	last := 0
	cur := spans[0]
	flush := func() {
		b.WriteString(s[last:cur.start])
		b.WriteString("***")
		last = cur.end
	}
	for _, sp := range spans[1:] {
		if sp.start <= cur.end {
			cur.end = max(cur.end, sp.end)
			continue
		}
		flush()
		cur = sp
	}
	flush()
	b.WriteString(s[last:])
	return b.String()
}

package mux

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/BurntSushi/toml"
)

// lineIndex maps each key of the document, named by its path with array
// indexes ("client[1].rule[0].rate"), to the 1-based line that defines
// it. The keys, their order and which tables are arrays come from the
// decoder's metadata; it does not keep where each array element's keys
// are, so each key is then looked for in the source from the line of the
// key before it.
func lineIndex(md *toml.MetaData, src []byte) map[string]int {
	lines := strings.Split(string(src), "\n")
	for i, l := range lines {
		lines[i] = stripComment(l)
	}
	out := make(map[string]int)
	next := make(map[string]int) // path of an array of tables -> elements seen
	from := 0
	for _, k := range md.Keys() {
		path := indexedPath(md, k, next)
		isTable := strings.HasSuffix(md.Type(k...), "Hash")
		assigns := assignRE(k[len(k)-1])
		for n := from; n < len(lines); n++ {
			if (isTable && isHeader(lines[n], k)) || assigns.MatchString(lines[n]) {
				out[path] = n + 1
				from = n
				break
			}
		}
	}
	return out
}

// indexedPath returns k with the index of the current element after each
// array of tables in it. When k is itself an array of tables, it is a new
// element's header: that element is counted.
func indexedPath(md *toml.MetaData, k toml.Key, next map[string]int) string {
	var b strings.Builder
	for i, part := range k {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(part)
		if md.Type(k[:i+1]...) != "ArrayHash" {
			continue
		}
		p := b.String()
		if i == len(k)-1 {
			fmt.Fprintf(&b, "[%d]", next[p])
			next[p]++
		} else {
			fmt.Fprintf(&b, "[%d]", max(next[p]-1, 0))
		}
	}
	return b.String()
}

// isHeader reports whether line is the header [k] or [[k]].
func isHeader(line string, k toml.Key) bool {
	line = strings.TrimSpace(line)
	if !strings.HasPrefix(line, "[") {
		return false
	}
	line = strings.Trim(line, "[] \t")
	parts := strings.Split(line, ".")
	if len(parts) != len(k) {
		return false
	}
	for i, p := range parts {
		if strings.Trim(strings.TrimSpace(p), `"'`) != k[i] {
			return false
		}
	}
	return true
}

// assignRE matches a line that assigns the key name: name = …, also as
// the last part of a dotted key, quoted, or inside an inline table.
func assignRE(name string) *regexp.Regexp {
	q := regexp.QuoteMeta(name)
	return regexp.MustCompile(`(^|[\s.{,])(` + q + `|"` + q + `"|'` + q + `')\s*=`)
}

// stripComment removes a # comment, minding quoted strings.
func stripComment(line string) string {
	var quote byte
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote == 0 && (c == '"' || c == '\''):
			quote = c
		case quote == '"' && c == '\\':
			i++
		case quote != 0 && c == quote:
			quote = 0
		case quote == 0 && c == '#':
			return line[:i]
		}
	}
	return line
}

var indexRE = regexp.MustCompile(`\[\d+\]`)

// unindexed drops the array indexes from a path: "client[1].rule[0].rate"
// is the key client.rule.rate.
func unindexed(path string) string { return indexRE.ReplaceAllString(path, "") }

package mux

import (
	"bufio"
	"bytes"
	"strings"

	"github.com/BurntSushi/toml"
)

// keyLine finds the line that defines key in TOML source: the first line
// inside a table whose path matches the key's parent (array indexes are not
// part of a toml.Key) that assigns the key's last part. 0 when not found.
func keyLine(src []byte, key toml.Key) int {
	if len(key) == 0 {
		return 0
	}
	parent := strings.Join(key[:len(key)-1], ".")
	last := key[len(key)-1]
	table := ""
	sc := bufio.NewScanner(bytes.NewReader(src))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "[") {
			table = strings.Trim(strings.SplitN(line, "#", 2)[0], "[] \t")
			if table == strings.Join(key, ".") {
				return n // the key is itself a table
			}
			continue
		}
		name, _, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		name = strings.Trim(strings.TrimSpace(name), `"'`)
		full := name
		if table != "" {
			full = table + "." + name
		}
		if full == parent+"."+last || (parent == "" && full == last) {
			return n
		}
	}
	return 0
}

// valueLine finds the first line assigning value to a key named name.
func valueLine(src []byte, name, value string) int {
	sc := bufio.NewScanner(bytes.NewReader(src))
	for n := 1; sc.Scan(); n++ {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if ok && strings.TrimSpace(k) == name && strings.Contains(v, `"`+value+`"`) {
			return n
		}
	}
	return 0
}

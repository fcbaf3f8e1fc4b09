// Package configcases lists invalid configs, one per error path of the
// config loader, for the loader's tests (mux) and the CLI's (validate's
// exit code and message). Each config differs from a valid one in one
// place, marked with a "#!" comment on the line the error must name.
package configcases

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Marker ends the line an error must point at.
const Marker = "#!"

// Base is a valid config: two clients, the second with two rules, and two
// upstream hosts, so that an error in a later array element shows when
// the loader names an earlier element's line. It needs the modules of
// plugins/standard.
const Base = `[server]
listen = "127.0.0.1:2775"
bind_timeout = "10s"
mo_default = "shop"

[admin]
listen = "127.0.0.1:2019"

[log]
level = "info"
format = "console"

[store]
module = "memory"
dlr_ttl = "72h"
retention = "48h"

[upstream]
system_id = "acct"
password = "secret"
balancer = "least_pending"

[[upstream.host]]
address = "127.0.0.1:2775"

[[upstream.host]]
address = "127.0.0.1:2776"

[[client]]
system_id = "shop"
password = "pw"
mo_numbers = ["4511"]
allow = ["127.0.0.1"]

  [[client.rule]]
  module = "rate_limit"
  rate = 50

[[client]]
system_id = "bank"
password = "pw"
mo_numbers = ["4522"]
allow = ["10.0.0.0/8"]

  [[client.rule]]
  module = "priority"
  max = 1

  [[client.rule]]
  module = "rate_limit"
  rate = 5
`

// Case is one invalid config.
type Case struct {
	Name string
	Key  string // the dotted key the one error names; "" for syntax errors
	Msg  string // a substring of the error message
	// Files is set when the error is about something the config names
	// outside itself (a file, a command, a directory), which only Load,
	// not Parse, looks at.
	Files bool
	// NotRoot is set when the case cannot fail for root (a directory's
	// mode does not stop root writing to it): tests skip it as root.
	NotRoot bool
	// Config returns the config text; dir is an empty directory it may
	// write files into.
	Config func(dir string) string
}

// Line returns the 1-based number of the line that holds Marker, or 0.
func Line(src string) int {
	for i, l := range strings.Split(src, "\n") {
		if strings.Contains(l, Marker) {
			return i + 1
		}
	}
	return 0
}

// edit returns Base with the last occurrence of old replaced by new.
func edit(old, new string) func(string) string {
	return func(string) string { return replaceLast(Base, old, new) }
}

func replaceLast(s, old, new string) string {
	i := strings.LastIndex(s, old)
	if i < 0 {
		panic(fmt.Sprintf("configcases: %q not in the config", old))
	}
	return s[:i] + new + s[i+len(old):]
}

// bank is the second client's table, which many cases edit.
const bank = "[[client]]\nsystem_id = \"bank\"\npassword = \"pw\"\n"

func write(dir, name, body string, mode os.FileMode) string {
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), mode); err != nil {
		panic(err)
	}
	return p
}

// Cases returns every case.
func Cases() []Case {
	return []Case{
		// Syntax and decoding.
		{Name: "syntax error", Key: "", Msg: "newlines", Config: edit(`address = "127.0.0.1:2776"`, `address = "127.0.0.1:2776 #!`)},
		{Name: "key defined twice", Key: "", Msg: "already been defined", Config: edit(`  rate = 5`, "  rate = 5\n  rate = 6 #!")},
		{Name: "duration without unit", Key: "server.bind_timeout", Msg: "not a duration", Config: edit(`bind_timeout = "10s"`, `bind_timeout = "30" #!`)},
		{Name: "duration as a number", Key: "server.bind_timeout", Msg: "not a duration", Config: edit(`bind_timeout = "10s"`, `bind_timeout = 30 #!`)},
		{Name: "negative duration", Key: "store.dlr_ttl", Msg: "negative duration", Config: edit(`dlr_ttl = "72h"`, `dlr_ttl = "-1h" #!`)},
		{Name: "string for an int in the second client", Key: "client.max_binds", Msg: "incompatible types", Config: edit(bank, bank+"max_binds = \"4\" #!\n")},
		{Name: "table given a value", Key: "log", Msg: "want a table", Config: func(string) string {
			return "log = 3 #!\n" + strings.Replace(Base, "[log]\nlevel = \"info\"\nformat = \"console\"\n", "", 1)
		}},
		{Name: "upstream given a value", Key: "upstream", Msg: "want a table", Config: func(string) string {
			i, j := strings.Index(Base, "[upstream]"), strings.Index(Base, "[[client]]")
			return "upstream = 3 #!\n" + Base[:i] + Base[j:]
		}},
		{Name: "system_id of the wrong type in the second client", Key: "client.system_id", Msg: "incompatible types", Config: edit(bank, "[[client]]\nsystem_id = 3 #!\npassword = \"pw\"\n")},
		{Name: "unknown top-level table", Key: "serverx", Msg: "unknown key", Config: edit(`[admin]`, "[serverx] #!\nx = 1\n\n[admin]")},
		{Name: "unknown key in server", Key: "server.lisen", Msg: "unknown key", Config: edit(`bind_timeout = "10s"`, "bind_timeout = \"10s\"\nlisen = \"x\" #!")},
		{Name: "unknown key in the second client", Key: "client.lisen", Msg: "unknown key", Config: edit(bank, bank+"lisen = 3 #!\n")},
		{Name: "unknown key in the second host", Key: "upstream.host.adress", Msg: "unknown key", Config: edit(`address = "127.0.0.1:2776"`, "address = \"127.0.0.1:2776\"\nadress = \"x\" #!")},

		// check
		{Name: "server.listen not host:port", Key: "server.listen", Msg: "not host:port", Config: edit(`listen = "127.0.0.1:2775"`, `listen = "2775" #!`)},
		{Name: "server.tls_listen not host:port", Key: "server.tls_listen", Msg: "not host:port", Config: edit(`mo_default = "shop"`, "mo_default = \"shop\"\ntls_listen = \"8775\" #!\ntls_cert = \"c\"\ntls_key = \"k\"")},
		{Name: "tls_listen without cert and key", Key: "server.tls_listen", Msg: "needs tls_cert and tls_key", Config: edit(`mo_default = "shop"`, "mo_default = \"shop\"\ntls_listen = \"127.0.0.1:8775\" #!")},
		{Name: "admin.listen not host:port", Key: "admin.listen", Msg: "not host:port", Config: edit(`listen = "127.0.0.1:2019"`, `listen = "localhost" #!`)},
		{Name: "admin.token with a space", Key: "admin.token", Msg: "printable ASCII", Config: edit(`listen = "127.0.0.1:2019"`, "listen = \"127.0.0.1:2019\"\ntoken = \"a b\" #!")},
		{Name: "admin on the network without a token", Key: "admin.token", Msg: "required when admin.listen", Config: edit(`listen = "127.0.0.1:2019"`, `listen = "0.0.0.0:2019" #!`)},
		{Name: "log.level", Key: "log.level", Msg: "want debug", Config: edit(`level = "info"`, `level = "loud" #!`)},
		{Name: "log.format", Key: "log.format", Msg: "want console or json", Config: edit(`format = "console"`, `format = "xml" #!`)},
		{Name: "server.mo_default names no client", Key: "server.mo_default", Msg: "no [[client]]", Config: edit(`mo_default = "shop"`, `mo_default = "shopp" #!`)},

		// checkUpstream
		{Name: "upstream.system_id missing", Key: "upstream.system_id", Msg: "missing", Config: edit("[upstream]\nsystem_id = \"acct\"\n", "[upstream] #!\n")},
		{Name: "upstream.bind", Key: "upstream.bind", Msg: "want transceiver", Config: edit(`balancer = "least_pending"`, "balancer = \"least_pending\"\nbind = \"both\" #!")},
		{Name: "no upstream host", Key: "upstream.host", Msg: "at least one", Config: func(string) string {
			s := strings.Replace(Base, "[upstream]\n", "[upstream] #!\n", 1)
			s = strings.Replace(s, "[[upstream.host]]\naddress = \"127.0.0.1:2775\"\n\n", "", 1)
			return strings.Replace(s, "[[upstream.host]]\naddress = \"127.0.0.1:2776\"\n\n", "", 1)
		}},
		{Name: "upstream.sessions_per_host negative", Key: "upstream.sessions_per_host", Msg: "must be positive", Config: edit(`balancer = "least_pending"`, "balancer = \"least_pending\"\nsessions_per_host = -1 #!")},
		{Name: "upstream.window negative", Key: "upstream.window", Msg: "must be positive", Config: edit(`balancer = "least_pending"`, "balancer = \"least_pending\"\nwindow = -1 #!")},
		{Name: "upstream.balancer unknown", Key: "upstream.balancer", Msg: `unknown module "random"`, Config: edit(`balancer = "least_pending"`, `balancer = "random" #!`)},
		{Name: "upstream.max_rate negative", Key: "upstream.max_rate", Msg: "must be positive or 0", Config: edit(`balancer = "least_pending"`, "balancer = \"least_pending\"\nmax_rate = -1.5 #!")},
		{Name: "upstream.fleet_max_sessions negative", Key: "upstream.fleet_max_sessions", Msg: "must be positive or 0 (no cap)", Config: edit(`balancer = "least_pending"`, "balancer = \"least_pending\"\nfleet_max_sessions = -1 #!")},
		{Name: "second host address", Key: "upstream.host.address", Msg: "host[1]: not host:port", Config: edit(`address = "127.0.0.1:2776"`, `address = "127.0.0.1" #!`)},
		{Name: "second host ca without tls", Key: "upstream.host.ca", Msg: "host[1]: ca without tls", Config: edit(`address = "127.0.0.1:2776"`, "address = \"127.0.0.1:2776\"\nca = \"ca.pem\" #!")},

		// checkClients, all in the second client
		{Name: "client system_id missing", Key: "client.system_id", Msg: "client[1]: missing", Config: edit(bank, "[[client]] #!\npassword = \"pw\"\n")},
		{Name: "client system_id reserved", Key: "client.system_id", Msg: "reserved for the orphan queue", Config: edit(bank, "[[client]]\nsystem_id = \"~orphaned\" #!\npassword = \"pw\"\n")},
		{Name: "client system_id twice", Key: "client.system_id", Msg: `"shop" defined twice`, Config: edit(bank, "[[client]]\nsystem_id = \"shop\" #!\npassword = \"pw\"\n")},
		{Name: "client password missing", Key: "client.password", Msg: "password or password_hash is needed", Config: edit(bank, "[[client]] #!\nsystem_id = \"bank\"\n")},
		{Name: "client password and hash", Key: "client.password_hash", Msg: "not both", Config: edit(bank, bank+"password_hash = \"$2a$04$abc\" #!\n")},
		{Name: "client password_hash not bcrypt", Key: "client.password_hash", Msg: "not a bcrypt hash", Config: edit(bank, "[[client]]\nsystem_id = \"bank\"\npassword_hash = \"plain\" #!\n")},
		{Name: "client max_binds negative", Key: "client.max_binds", Msg: "must be positive", Config: edit(bank, bank+"max_binds = -1 #!\n")},
		{Name: "client weight negative", Key: "client.weight", Msg: "must be positive", Config: edit(bank, bank+"weight = -2 #!\n")},
		{Name: "trusted_proxies not a CIDR", Key: "server.trusted_proxies", Msg: `"balancer" is not a CIDR`, Config: edit(`bind_timeout = "10s"`, "bind_timeout = \"10s\"\ntrusted_proxies = [\"balancer\"] #!")},
		{Name: "client allow not a CIDR", Key: "client.allow", Msg: `"10.0.0.0/33" is not a CIDR`, Config: edit(`allow = ["10.0.0.0/8"]`, `allow = ["10.0.0.0/33"] #!`)},
		{Name: "client mo_numbers claimed twice", Key: "client.mo_numbers", Msg: `"4511" is claimed by "shop" too`, Config: edit(`mo_numbers = ["4522"]`, `mo_numbers = ["4511"] #!`)},

		// Modules: store
		{Name: "store unknown module", Key: "store.module", Msg: `unknown module "boltdb"`, Config: edit(`module = "memory"`, `module = "boltdb" #!`)},
		{Name: "store module not a string", Key: "store.module", Msg: "incompatible types", Config: edit(`module = "memory"`, `module = 3 #!`)},
		{Name: "store module bad value", Key: "store.retention", Msg: "not a duration", Config: edit(`retention = "48h"`, `retention = "2d" #!`)},
		{Name: "store unknown key", Key: "store.path", Msg: "unknown key", Config: edit(`retention = "48h"`, "retention = \"48h\"\npath = \"x.db\" #!")},
		{Name: "store module settings", Key: "store", Msg: "queue_cap -1 is negative", Config: func(dir string) string {
			return strings.Replace(Base, "module = \"memory\"\n", fmt.Sprintf("module = \"bolt\" #!\npath = %q\nqueue_cap = -1\n", filepath.Join(dir, "m.db")), 1)
		}},

		// Modules: rules, in the second client's second rule
		{Name: "rule unknown module", Key: "client.rule.module", Msg: `unknown module "rate_limiter"`, Config: edit(`module = "rate_limit"`, `module = "rate_limiter" #!`)},
		{Name: "rule module missing", Key: "client.rule.module", Msg: "rule[1]: missing", Config: edit("  [[client.rule]]\n  module = \"rate_limit\"\n", "  [[client.rule]] #!\n")},
		{Name: "rule bad value", Key: "client.rule.rate", Msg: "incompatible types", Config: edit(`rate = 5`, `rate = "fast" #!`)},
		{Name: "rule unknown key known to another rule", Key: "client.rule.rate", Msg: "unknown key", Config: edit(`max = 1`, "max = 1\n  rate = 3 #!")},
		{Name: "rule module settings", Key: "client.rule", Msg: "max", Config: edit("module = \"priority\"\n  max = 1", "module = \"priority\" #!\n  max = 5")},

		// What the config names outside itself.
		{Name: "plugin command missing", Files: true, Key: "client.rule.command", Msg: "no-such-rule", Config: func(dir string) string {
			return replaceLast(Base, "  module = \"rate_limit\"\n  rate = 5\n", fmt.Sprintf("  module = \"plugin\"\n  command = [%q] #!\n", filepath.Join(dir, "no-such-rule")))
		}},
		{Name: "plugin command not in PATH", Files: true, Key: "client.rule.command", Msg: "not found", Config: edit("  module = \"rate_limit\"\n  rate = 5\n", "  module = \"plugin\"\n  command = [\"smpp-mux-no-such-rule\", \"-v\"] #!\n")},
		{Name: "plugin command not executable", Files: true, Key: "client.rule.command", Msg: "permission denied", Config: func(dir string) string {
			p := write(dir, "rule.sh", "#!/bin/sh\n", 0o644)
			return replaceLast(Base, "  module = \"rate_limit\"\n  rate = 5\n", fmt.Sprintf("  module = \"plugin\"\n  command = [%q] #!\n", p))
		}},
		{Name: "tls_cert unreadable", Files: true, Key: "server.tls_cert", Msg: "no-cert.pem", Config: func(dir string) string {
			k := write(dir, "key.pem", "not pem\n", 0o600)
			return replaceLast(Base, `mo_default = "shop"`, fmt.Sprintf("mo_default = \"shop\"\ntls_listen = \"127.0.0.1:8775\"\ntls_cert = %q #!\ntls_key = %q", filepath.Join(dir, "no-cert.pem"), k))
		}},
		{Name: "tls_key unreadable", Files: true, Key: "server.tls_key", Msg: "no-key.pem", Config: func(dir string) string {
			c := write(dir, "cert.pem", "not pem\n", 0o600)
			return replaceLast(Base, `mo_default = "shop"`, fmt.Sprintf("mo_default = \"shop\"\ntls_listen = \"127.0.0.1:8775\"\ntls_cert = %q\ntls_key = %q #!", c, filepath.Join(dir, "no-key.pem")))
		}},
		{Name: "tls_cert not a certificate", Files: true, Key: "server.tls_cert", Msg: "certificate", Config: func(dir string) string {
			c := write(dir, "cert.pem", "not pem\n", 0o600)
			k := write(dir, "key.pem", "not pem\n", 0o600)
			return replaceLast(Base, `mo_default = "shop"`, fmt.Sprintf("mo_default = \"shop\"\ntls_listen = \"127.0.0.1:8775\"\ntls_cert = %q #!\ntls_key = %q", c, k))
		}},
		{Name: "host ca unreadable", Files: true, Key: "upstream.host.ca", Msg: "no-ca.pem", Config: func(dir string) string {
			return replaceLast(Base, `address = "127.0.0.1:2776"`, fmt.Sprintf("address = \"127.0.0.1:2776\"\ntls = true\nca = %q #!", filepath.Join(dir, "no-ca.pem")))
		}},
		{Name: "host ca without a certificate", Files: true, Key: "upstream.host.ca", Msg: "no PEM certificate", Config: func(dir string) string {
			p := write(dir, "ca.pem", "not pem\n", 0o600)
			return replaceLast(Base, `address = "127.0.0.1:2776"`, fmt.Sprintf("address = \"127.0.0.1:2776\"\ntls = true\nca = %q #!", p))
		}},
		{Name: "bolt directory missing", Files: true, Key: "store.path", Msg: "no-such-dir", Config: func(dir string) string {
			return strings.Replace(Base, "module = \"memory\"\n", fmt.Sprintf("module = \"bolt\"\npath = %q #!\n", filepath.Join(dir, "no-such-dir", "m.db")), 1)
		}},
		{Name: "bolt path under a file", Files: true, Key: "store.path", Msg: "not a directory", Config: func(dir string) string {
			f := write(dir, "file", "", 0o600)
			return strings.Replace(Base, "module = \"memory\"\n", fmt.Sprintf("module = \"bolt\"\npath = %q #!\n", filepath.Join(f, "m.db")), 1)
		}},
		{Name: "bolt directory not writable", Files: true, NotRoot: true, Key: "store.path", Msg: "not writable", Config: func(dir string) string {
			ro := filepath.Join(dir, "ro")
			if err := os.Mkdir(ro, 0o555); err != nil {
				panic(err)
			}
			return strings.Replace(Base, "module = \"memory\"\n", fmt.Sprintf("module = \"bolt\"\npath = %q #!\n", filepath.Join(ro, "m.db")), 1)
		}},
	}
}

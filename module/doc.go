// Package module is the module kernel of smpp-mux: the registry of
// modules (rules, stores, balancers), their lifecycle interfaces
// (Provisioner, Validator, CleanerUpper, Checker), the Context they are
// provisioned in, and the types their settings and work need: Duration
// and KeyError for TOML tables, Rule and Message for rules.
//
// Modules import this package, never the router (package mux), which
// loads them from the config. Start with module.go (the lifecycle), then
// context.go (LoadModule, Cleanup) and rule.go.
package module

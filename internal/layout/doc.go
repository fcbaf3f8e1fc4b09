// Package layout keeps the repository's imports to the table in
// docs/imports.md: its test parses the imports of every package's
// non-test files and fails when one is not allowed by the package's row.
// Start with layout.go (the table and the check), then layout_test.go.
package layout

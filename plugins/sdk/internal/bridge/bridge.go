// Package bridge lets package sdk/host reach the plugin side of package
// sdk without sdk exporting it (grpc's internal package does the same):
// sdk sets the variables in its init, and sdk/host, which imports sdk,
// reads them.
package bridge

import "github.com/smpp-mux/smpp-mux/plugins/sdk/internal/rulepb"

// NewServer returns the gRPC service that runs rule, an sdk.Rule, as
// sdk.Serve does. Set by package sdk.
var NewServer func(rule any) rulepb.RuleServer

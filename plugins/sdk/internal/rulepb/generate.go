// Package rulepb is the generated protobuf and gRPC code of the rule
// plugin protocol (rule.proto). Only packages sdk, sdk/host and
// internal/bridge import it; the .pb.go files are committed so that
// building needs no protoc.
package rulepb

//go:generate protoc --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative rule.proto

module github.com/smpp-mux/smpp-mux

go 1.26.0

require (
	go.uber.org/goleak v1.3.0
	go.uber.org/zap v1.28.0
	golang.org/x/text v0.44.0
)

require go.uber.org/multierr v1.10.0 // indirect

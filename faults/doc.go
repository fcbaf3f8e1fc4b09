// Package faults is smpp-mux's fault suite: the mux runs as a subprocess
// (so it can be killed -9 and measured) in front of the provider simulator
// run in-process (so provider faults can be injected directly), under
// steady load with delivery receipts, and faults are injected one at a
// time while a Ledger accounts for every submit and every receipt by
// message id.
//
// Start reading at faults_test.go (the suite and its invariants), then
// ledger.go (what is counted), client.go (the load driver), harness.go
// (mux process, simulator, config) and inject.go (fault injectors).
//
//	go test ./faults/...                      # short setting, CI
//	FAULTS_RESULTS=1 go test ./faults/        # short, and writes its section of RESULTS.md
//	FAULTS_RESULTS=1 go test ./faults/ -run 'TestFaults/1[3-6]'  # some faults: their rows only
//	go test ./faults/ -run . -args -full      # full-length figures; writes RESULTS.md
//	FAULTS_FULL=1 go test ./faults/           # the same
//	go run ./faults/soak -duration 30m        # soak: RSS, goroutines, fds over time
package faults

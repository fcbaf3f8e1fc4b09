// Package faults is smpp-mux's fault suite: the mux runs as a subprocess
// (so it can be killed -9 and measured) in front of the provider simulator
// run in-process (so provider faults can be injected directly), under
// steady load with delivery receipts, and faults are injected one at a
// time while a Ledger accounts for every submit and every receipt by
// message id.
//
// Faults 18-21 run a fleet: three mux processes on one Redis in front of
// one simulator account, each with its own config, ports and id journal
// and its own four upstream sessions, so that the provider spreads every
// receipt over twelve binds and most arrive at an instance that did not
// send the message. Each tenant runs two steady clients, bound to the
// instances round-robin (clients of t0, t0, t1, t1, ... to instances 0,
// 1, 2, 0, ...): every tenant has sessions on two instances, and every
// instance has sessions of two or three tenants. Redis is stopped for
// every instance (18), or one instance is partitioned from it by a
// Forwarder that is cut (19: connections closed, dials refused), stalled
// (20: bytes held both ways, calls time out) or made to hold Redis's
// replies only (21: commands run, the instance hears of none).
//
// Start reading at faults_test.go (the suite and its invariants), then
// ledger.go (what is counted), client.go (the load driver, on the
// internal/esme peer kit), harness.go (mux process, simulator, config)
// and inject.go (fault injectors).
//
//	go test ./faults/...                      # short setting, CI
//	FAULTS_RESULTS=1 go test ./faults/        # short, and writes its section of RESULTS.md
//	FAULTS_RESULTS=1 go test ./faults/ -run 'TestFaults/1[3-6]'  # some faults: their rows only
//	FAULTS_RESULTS=1 go test ./faults/ -run 'TestFaults/(1[89]|2[01])'  # the fleet faults
//	go test ./faults/ -run . -args -full      # full-length figures; writes RESULTS.md
//	FAULTS_FULL=1 go test ./faults/           # the same
//	go run ./faults/soak -duration 30m        # soak: RSS, goroutines, fds over time
package faults

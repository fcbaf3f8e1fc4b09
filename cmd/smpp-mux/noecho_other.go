//go:build !linux

package main

// noEcho does nothing here: term.ReadPassword turns echo off when it
// starts reading.
func noEcho(int) (restore func(), err error) { return func() {}, nil }

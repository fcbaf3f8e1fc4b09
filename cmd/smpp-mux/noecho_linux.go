package main

import "golang.org/x/sys/unix"

// noEcho turns the terminal's echo off before the prompt is written, so
// that a password typed or pasted ahead of the prompt is not shown
// either (term.ReadPassword turns echo off only once it starts reading).
// restore puts the terminal back as it was.
func noEcho(fd int) (restore func(), err error) {
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, err
	}
	t := *old
	t.Lflag &^= unix.ECHO
	t.Lflag |= unix.ICANON | unix.ISIG
	t.Iflag |= unix.ICRNL
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &t); err != nil {
		return nil, err
	}
	return func() { _ = unix.IoctlSetTermios(fd, unix.TCSETS, old) }, nil
}

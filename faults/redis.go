package faults

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// RedisDo sends one command to the Redis at addr on a connection of its
// own and returns the reply: a string for a simple or bulk string, an
// int64 for an integer, nil for a null, []any for an array; an error
// reply is an error.
func RedisDo(addr string, args ...string) (any, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := io.WriteString(c, b.String()); err != nil {
		return nil, err
	}
	return readRESP(bufio.NewReader(c))
}

func readRESP(r *bufio.Reader) (any, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return nil, errors.New("empty reply")
	}
	switch line[0] {
	case '+':
		return line[1:], nil
	case '-':
		return nil, errors.New(line[1:])
	case ':':
		return strconv.ParseInt(line[1:], 10, 64)
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return nil, err
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return nil, err
		}
		out := make([]any, 0, n)
		for range n {
			v, err := readRESP(r)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	}
	return nil, fmt.Errorf("unexpected reply %q", line)
}

// Lease is an entry of a store.redis queue leased to a consumer (a mux
// instance) and not acknowledged.
type Lease struct {
	Queue, Entry, Consumer string
	Deliveries             int64
	Left                   time.Duration // until the lease runs out, by Redis's clock
}

// RedisLeases returns the entries of the given store.redis queues
// (prefix "smppmux", consumer group "mux") that are leased and not
// acknowledged, at most 100 a queue.
func RedisLeases(addr string, queues ...string) ([]Lease, error) {
	t, err := RedisDo(addr, "TIME")
	if err != nil {
		return nil, err
	}
	ts, _ := t.([]any)
	if len(ts) != 2 {
		return nil, fmt.Errorf("TIME: %v", t)
	}
	sec, _ := strconv.ParseInt(fmt.Sprint(ts[0]), 10, 64)
	usec, _ := strconv.ParseInt(fmt.Sprint(ts[1]), 10, 64)
	nowMS := sec*1000 + usec/1000
	var out []Lease
	for _, q := range queues {
		key := "smppmux:q:{" + q + "}"
		p, err := RedisDo(addr, "XPENDING", key, "mux", "-", "+", "100")
		if err != nil {
			if strings.Contains(err.Error(), "NOGROUP") {
				continue
			}
			return nil, err
		}
		rows, _ := p.([]any)
		for _, row := range rows {
			f, _ := row.([]any)
			if len(f) < 4 {
				continue
			}
			l := Lease{Queue: q, Entry: fmt.Sprint(f[0]), Consumer: fmt.Sprint(f[1])}
			l.Deliveries, _ = f[3].(int64)
			if s, err := RedisDo(addr, "ZSCORE", "smppmux:lease:{"+q+"}", l.Entry); err == nil && s != nil {
				until, _ := strconv.ParseFloat(fmt.Sprint(s), 64)
				l.Left = time.Duration(int64(until)-nowMS) * time.Millisecond
			}
			out = append(out, l)
		}
	}
	return out, nil
}

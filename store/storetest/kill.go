package storetest

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/smpp-mux/smpp-mux/store"
)

// KilledMidLoad kills (SIGKILL) a child process, the test binary run
// again with childEnv=path, whose TestMain must then run LoadUntilKilled
// on a store at path, while it writes ids, reports and acknowledgements
// from several goroutines, printing each write once it returned. reopen
// then opens the store at path (and may check its files): it must hold
// every id and report whose write returned, and, of the reports
// acknowledged or being acknowledged when the kill came, any: an
// acknowledgement lost with the process only makes its report be
// delivered again. Skipped with -short.
func KilledMidLoad(t *testing.T, childEnv, path string, reopen func() store.Store) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs a child process for a second or more")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var (
		putIDs = map[string]string{} // id -> client
		queued = map[string]string{} // tag -> client
		acked  = map[string]bool{}   // tag
		acking = map[string]bool{}   // tag: Ack called, maybe returned
		nAcks  int
		killed bool
	)
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 {
			continue
		}
		switch f[0] {
		case "id":
			putIDs[f[1]] = f[2]
		case "enq":
			queued[f[1]] = f[2]
		case "acking":
			acking[f[1]] = true
		case "ack":
			acked[f[1]] = true
			nAcks++
		}
		if nAcks >= 2000 && !killed {
			_ = cmd.Process.Signal(syscall.SIGKILL)
			killed = true
		}
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("child ended before it was killed: %v", err)
	}

	s := reopen()
	defer s.Close()
	for id, client := range putIDs {
		if c, ok, err := s.LookupID(context.Background(), id); !ok || c != client || err != nil {
			t.Fatalf("id %s stored before the kill: LookupID = %q, %v, %v", id, c, ok, err)
		}
	}
	found := map[string]bool{}
	for _, client := range []string{"c0", "c1", "c2"} {
		es, err := s.Fetch(context.Background(), client, 1<<20, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			tag := Tag(e.Frame)
			if !strings.HasPrefix(tag, client+"-") || found[tag] {
				t.Fatalf("entry %q in %s's queue: not one the child enqueued there, or twice", tag, client)
			}
			found[tag] = true
		}
	}
	var again int
	for tag := range queued {
		switch {
		case !acking[tag] && !found[tag]:
			t.Errorf("report %s, stored and never acknowledged, lost", tag)
		case acked[tag] && found[tag]:
			again++
		}
	}
	t.Logf("%d ids, %d reports stored, %d acknowledged before the kill; %d of those still queued (delivered again)",
		len(putIDs), len(queued), len(acked), again)
}

// LoadUntilKilled is the child process of KilledMidLoad: from several
// goroutines it writes ids and reports to s, and fetches, acknowledges
// and releases entries, printing each write once it returned, until it is
// killed. It returns only if the parent does not kill it.
func LoadUntilKilled(s store.Store) int {
	ctx := context.Background()
	var mu sync.Mutex // one line at a time on stdout
	say := func(lines []string) {
		mu.Lock()
		defer mu.Unlock()
		os.Stdout.WriteString(strings.Join(lines, ""))
	}
	clients := []string{"c0", "c1", "c2"}
	var wg sync.WaitGroup
	wg.Go(func() { // ids
		for n := 0; ; n += 20 {
			recs := make([]store.IDRecord, 20)
			var lines []string
			for i := range recs {
				recs[i] = store.IDRecord{ID: strconv.Itoa(n + i), Client: clients[i%3], Expires: time.Now().Add(time.Hour)}
				lines = append(lines, fmt.Sprintf("id %s %s\n", recs[i].ID, recs[i].Client))
			}
			if err := s.PutIDs(ctx, recs); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			say(lines)
		}
	})
	wg.Go(func() { // reports
		for n := 0; ; n += 10 {
			items := make([]store.Item, 10)
			var lines []string
			for i := range items {
				c := clients[(n+i)%3]
				tag := fmt.Sprintf("%s-%d", c, n+i)
				items[i] = store.Item{Client: c, Kind: store.KindReport, Frame: Frame(tag)}
				lines = append(lines, fmt.Sprintf("enq %s %s\n", tag, c))
			}
			if err := s.Enqueue(ctx, items); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			say(lines)
		}
	})
	for _, c := range clients { // deliveries: acknowledge most, release some
		wg.Go(func() {
			for i := 0; ; i++ {
				es, err := s.Fetch(ctx, c, 7, time.Minute)
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
				if len(es) == 0 {
					time.Sleep(time.Millisecond)
					continue
				}
				var before, lines []string
				var ackIDs, releaseIDs []string
				for j, e := range es {
					if (i+j)%5 == 4 {
						releaseIDs = append(releaseIDs, e.ID)
						continue
					}
					ackIDs = append(ackIDs, e.ID)
					before = append(before, fmt.Sprintf("acking %s %s\n", Tag(e.Frame), c))
					lines = append(lines, fmt.Sprintf("ack %s %s\n", Tag(e.Frame), c))
				}
				say(before) // the kill may come once Ack has removed them, before it returns
				if err := s.Ack(ctx, c, ackIDs); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
				say(lines)
				if err := s.Release(ctx, c, releaseIDs); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
			}
		})
	}
	wg.Wait() // never: the parent kills the process
	return 0
}

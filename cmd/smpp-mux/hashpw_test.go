package main

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestHashPasswordCost(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		cost int // 0: refused with exit 2
	}{
		{nil, bcrypt.DefaultCost},
		{[]string{"--cost", "4"}, 4},
		{[]string{"--cost=5"}, 5},
		{[]string{"-cost", "4"}, 4},
		{[]string{"--cost", "3"}, 0},
		{[]string{"--cost", "0"}, 0},
		{[]string{"--cost", "-1"}, 0},
		{[]string{"--cost", "32"}, 0},
		{[]string{"--cost", "ten"}, 0},
	} {
		code, out, errs := runCmd(t, "s3cret\n", append([]string{"hash-password"}, tc.args...)...)
		if tc.cost == 0 {
			if code != 2 || out != "" || !strings.Contains(errs, "--cost") || !strings.Contains(errs, "usage: smpp-mux hash-password") {
				t.Errorf("%v: exit %d, stdout %q, stderr %q; want 2 naming --cost", tc.args, code, out, errs)
			}
			continue
		}
		h := []byte(strings.TrimSpace(out))
		if got, err := bcrypt.Cost(h); code != 0 || err != nil || got != tc.cost || bcrypt.CompareHashAndPassword(h, []byte("s3cret")) != nil {
			t.Errorf("%v: exit %d, %q (cost %d, %v), stderr %q; want a hash of cost %d", tc.args, code, out, got, err, errs, tc.cost)
		}
	}
	if code, _, errs := runCmd(t, "s3cret\n", "hash-password", "--cost", "3"); !strings.Contains(errs, "want 4 to 31") || code != 2 {
		t.Errorf("--cost 3: exit %d, %q; want the range", code, errs)
	}
}

// Stdin that is not a terminal: the first line is the password, without
// its line ending; nothing is prompted.
func TestHashPasswordStdin(t *testing.T) {
	t.Parallel()
	for in, pw := range map[string]string{
		"s3cret\n":            "s3cret",
		"s3cret\r\n":          "s3cret",
		"s3cret":              "s3cret",
		"pass word\nsecond\n": "pass word",
	} {
		code, out, errs := runCmd(t, in, "hash-password", "--cost", "4")
		if code != 0 || errs != "" || bcrypt.CompareHashAndPassword([]byte(strings.TrimSpace(out)), []byte(pw)) != nil {
			t.Errorf("stdin %q: exit %d, %q %q; want a hash of %q and no prompt", in, code, out, errs, pw)
		}
	}
	for _, in := range []string{"", "\n", "\r\n"} {
		if code, _, errs := runCmd(t, in, "hash-password", "--cost", "4"); code != 2 || !strings.Contains(errs, "no password") {
			t.Errorf("stdin %q: exit %d, %q; want 2", in, code, errs)
		}
	}
	if code, _, _ := runCmd(t, strings.Repeat("x", 73)+"\n", "hash-password", "--cost", "4"); code != 2 {
		t.Errorf("a password over bcrypt's 72 bytes: exit %d, want 2", code)
	}
}

// promptPassword asks twice, with each answer read by read (no echo on a
// terminal); the prompts, never the password, go to the prompt writer.
func TestPromptPassword(t *testing.T) {
	t.Parallel()
	reader := func(answers ...string) func() ([]byte, error) {
		return func() ([]byte, error) {
			if len(answers) == 0 {
				return nil, errors.New("EOF")
			}
			a := answers[0]
			answers = answers[1:]
			return []byte(a), nil
		}
	}
	var prompt strings.Builder
	pw, err := promptPassword(reader("s3cret", "s3cret"), &prompt)
	if err != nil || string(pw) != "s3cret" {
		t.Fatalf("same twice: %q %v", pw, err)
	}
	if p := prompt.String(); p != "Password: \nAgain: \n" {
		t.Errorf("prompts %q", p)
	}
	for name, answers := range map[string][]string{
		"different": {"s3cret", "s3cre7"},
		"empty":     {""},
		"closed":    {"s3cret"},
	} {
		prompt.Reset()
		_, err := promptPassword(reader(answers...), &prompt)
		var ee *exitError
		if err == nil || name != "closed" && (!errors.As(err, &ee) || ee.code != 2) {
			t.Errorf("%s: %v; want an exit 2 error", name, err)
		}
		if strings.Contains(prompt.String(), "s3cret") {
			t.Errorf("%s: the password is printed: %q", name, prompt.String())
		}
	}
}

package transport

import (
	"regexp"
	"testing"
)

func TestNewBranchAndTag(t *testing.T) {
	branch := regexp.MustCompile(`^z9hG4bK[0-9a-f]{16}$`)
	tag := regexp.MustCompile(`^[0-9a-f]{16}$`)
	seen := map[string]bool{}
	for range 1000 {
		b := string(NewBranch(nil))
		if !branch.MatchString(b) || seen[b] {
			t.Fatalf("branch %q (repeated: %v)", b, seen[b])
		}
		seen[b] = true
		if g := string(NewTag([]byte("x"))); !tag.MatchString(g[1:]) || g[0] != 'x' {
			t.Fatalf("tag %q", g)
		}
	}
	buf := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(100, func() { buf = NewBranch(buf[:0]); buf = NewTag(buf) }); n != 0 {
		t.Errorf("%v allocs", n)
	}
}

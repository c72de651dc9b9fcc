package keys

import (
	"testing"

	"github.com/switchyard/switchyard/config"
)

func TestLookup(t *testing.T) {
	set, err := New([]config.Key{
		{ID: "plain", Key: "sk-plain-secret", Team: "a"},
		{ID: "hashed", KeySHA256: HashHex("sk-hashed-secret"), Admin: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	if k, ok := set.Lookup("sk-plain-secret"); !ok || k.ID != "plain" || k.Team != "a" {
		t.Fatalf("plain key: %+v, %v", k, ok)
	}
	if k, ok := set.Lookup("sk-hashed-secret"); !ok || k.ID != "hashed" || !k.Admin {
		t.Fatalf("hashed key: %+v, %v", k, ok)
	}
	for _, bad := range []string{"", "sk-plain-secre", "sk-plain-secret ", HashHex("sk-hashed-secret")} {
		if _, ok := set.Lookup(bad); ok {
			t.Errorf("Lookup(%q) succeeded", bad)
		}
	}
	if _, err := New([]config.Key{{ID: "a", Key: "same-secret"}, {ID: "b", Key: "same-secret"}}); err == nil {
		t.Fatal("the same secret twice was accepted")
	}
}

func TestBearer(t *testing.T) {
	for in, want := range map[string]string{"Bearer abc": "abc", "bearer  abc ": "abc", "Basic abc": "", "Bearer ": "", "": ""} {
		if got := Bearer(in); got != want {
			t.Errorf("Bearer(%q) = %q, want %q", in, got, want)
		}
	}
}

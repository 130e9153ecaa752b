package lessons

import (
	"os"
	"path/filepath"
	"testing"
)

// tutorials/ must be what `make tutorials` renders from the catalogue now.
func TestTutorialsUpToDate(t *testing.T) {
	dir := filepath.Join("..", "tutorials")
	want := TutorialFiles()
	for name, content := range want {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || string(got) != content {
			t.Errorf("tutorials/%s is out of date with the lessons: run 'make tutorials'", name)
		}
	}
	have, _ := filepath.Glob(filepath.Join(dir, "*.md"))
	for _, p := range have {
		if _, ok := want[filepath.Base(p)]; !ok {
			t.Errorf("tutorials/%s belongs to no lesson: run 'make tutorials'", filepath.Base(p))
		}
	}
}

package hint

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"
)

func TestWith(t *testing.T) {
	if With(nil, "x") != nil {
		t.Fatal("nil error gained a hint")
	}
	err := fmt.Errorf("open rootfs: %w", With(fs.ErrNotExist, "run stepbox rootfs --rebuild"))
	if got := Of(err); got != "run stepbox rootfs --rebuild" {
		t.Fatalf("Of = %q", got)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("hint hides the wrapped error")
	}
	if Of(errors.New("plain")) != "" {
		t.Fatal("hint from nowhere")
	}
}

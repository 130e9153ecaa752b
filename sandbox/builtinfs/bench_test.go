package builtinfs

import (
	"os"
	"testing"
)

// BenchmarkDefaultReuse measures Default on a rootfs already built, what
// every `stepbox run` on the default rootfs pays.
func BenchmarkDefaultReuse(b *testing.B) {
	if _, err := findStaticBusybox(nil); err != nil {
		b.Skip(err)
	}
	dir := b.TempDir() + "/default"
	bin, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	if _, err := Default(dir, bin, BuildOptions{}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Default(dir, bin, BuildOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadManifest is the full read, for comparison.
func BenchmarkReadManifest(b *testing.B) {
	if _, err := findStaticBusybox(nil); err != nil {
		b.Skip(err)
	}
	dir := b.TempDir() + "/default"
	if _, err := Build(dir, "", BuildOptions{}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := ReadManifest(dir); err != nil {
			b.Fatal(err)
		}
	}
}

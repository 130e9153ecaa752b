//go:build !amd64

package security

// int80Calls: the 32-bit gate int $0x80 exists only on amd64.
func int80Calls() map[string]int32 { return nil }

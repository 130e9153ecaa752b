// Command steps reads a `stepbox tour --json` transcript and prints the
// slowest steps and how many took over half a second (bench/tour.sh).
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
)

func main() {
	b, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var t struct {
		Lessons []struct {
			Lesson string `json:"lesson"`
			Steps  []struct {
				Number int    `json:"number"`
				Title  string `json:"title"`
				Millis int64  `json:"millis"`
			} `json:"steps"`
		} `json:"lessons"`
	}
	if err := json.Unmarshal(b, &t); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	type row struct {
		name string
		ms   int64
	}
	var rows []row
	var total int64
	for _, l := range t.Lessons {
		for _, s := range l.Steps {
			rows = append(rows, row{fmt.Sprintf("%s %d %s", l.Lesson, s.Number, s.Title), s.Millis})
			total += s.Millis
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].ms > rows[j].ms })
	over := 0
	for _, r := range rows {
		if r.ms > 500 {
			over++
		}
	}
	fmt.Printf("\n%d steps, %d ms in steps, %d over 500 ms. Slowest:\n\n| step | ms |\n|---|---|\n", len(rows), total, over)
	for i, r := range rows {
		if i == 8 {
			break
		}
		fmt.Printf("| %s | %d |\n", r.name, r.ms)
	}
}

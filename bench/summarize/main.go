// Command summarize turns hyperfine's JSON export into a markdown table of
// medians, ratios to a baseline and peak RSS, for bench/*.sh.
//
//	go run ./bench/summarize -base 'runc run' results.json [rss.txt]
//
// rss.txt holds "NAME<TAB>KIB" lines measured with GNU time; NAME matches a
// benchmark's command name.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
)

type result struct {
	Command string    `json:"command"`
	Times   []float64 `json:"times"`
	Median  float64   `json:"median"`
}

func main() {
	base := flag.String("base", "", "substring of the command the ratios are taken against")
	flag.Parse()
	if flag.NArg() < 1 {
		fmt.Fprintln(os.Stderr, "usage: summarize -base NAME results.json [rss.txt]")
		os.Exit(2)
	}
	b, err := os.ReadFile(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var doc struct {
		Results []result `json:"results"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	rss := map[string]string{}
	if flag.NArg() > 1 {
		if f, err := os.Open(flag.Arg(1)); err == nil {
			s := bufio.NewScanner(f)
			for s.Scan() {
				if k, v, ok := strings.Cut(s.Text(), "\t"); ok {
					rss[k] = v
				}
			}
			f.Close()
		}
	}
	var baseMedian float64
	for _, r := range doc.Results {
		if *base != "" && strings.Contains(r.Command, *base) {
			baseMedian = median(r.Times)
		}
	}
	fmt.Printf("| command | median | p10 | p90 | ratio to %s | peak RSS |\n|---|---|---|---|---|---|\n", *base)
	for _, r := range doc.Results {
		m := median(r.Times)
		ratio := "-"
		if baseMedian > 0 {
			ratio = fmt.Sprintf("%.2f", m/baseMedian)
		}
		kib := "-"
		for k, v := range rss {
			if strings.Contains(r.Command, k) {
				kib = v + " KiB"
			}
		}
		fmt.Printf("| `%s` | %.2f ms | %.2f ms | %.2f ms | %s | %s |\n", r.Command, m*1000,
			quantile(r.Times, 0.1)*1000, quantile(r.Times, 0.9)*1000, ratio, kib)
	}
}

func median(t []float64) float64 { return quantile(t, 0.5) }

func quantile(t []float64, q float64) float64 {
	if len(t) == 0 {
		return 0
	}
	s := append([]float64(nil), t...)
	sort.Float64s(s)
	return s[int(q*float64(len(s)-1)+0.5)]
}

// Command summarize turns hyperfine's JSON exports into a markdown table of
// medians, ratios to a baseline and peak RSS, for bench/*.sh.
//
//	go run ./bench/summarize -base 'runc run' round1.json [round2.json …] [rss.txt]
//
// Several exports (rounds of the same commands, as bench/start.sh runs
// them) are merged command by command before the medians are taken.
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
	var results []result
	var rssFile string
	for _, arg := range flag.Args() {
		if !strings.HasSuffix(arg, ".json") {
			rssFile = arg
			continue
		}
		b, err := os.ReadFile(arg)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		var doc struct {
			Results []result `json:"results"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			fmt.Fprintln(os.Stderr, arg+":", err)
			os.Exit(1)
		}
		for _, r := range doc.Results {
			merged := false
			for i := range results {
				if results[i].Command == r.Command {
					results[i].Times = append(results[i].Times, r.Times...)
					merged = true
				}
			}
			if !merged {
				results = append(results, r)
			}
		}
	}
	rss := map[string]string{}
	if rssFile != "" {
		if f, err := os.Open(rssFile); err == nil {
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
	for _, r := range results {
		if *base != "" && strings.Contains(r.Command, *base) {
			baseMedian = median(r.Times)
		}
	}
	fmt.Printf("| command | median | p10 | p90 | ratio to %s | peak RSS |\n|---|---|---|---|---|---|\n", *base)
	for _, r := range results {
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

// Command firstanswer times a published port's first answer, for
// bench/network.sh: it runs `stepbox run -d … -p 127.0.0.1:PORT:80 … httpd`
// (the command after --, with %d standing for a free port), and measures
// from the start of that command until `run -d` returns, and until an HTTP
// request to 127.0.0.1:PORT is answered (polled every 200 µs, each try a
// new connection through the container's port proxy); then it reads the
// proxy's memory and removes the container. Medians of N runs.
//
//	firstanswer -n 20 -root STATE -- stepbox --root STATE run -d … -p 127.0.0.1:%d:80 -- httpd -f -p 80 -h /www
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

func main() {
	n := flag.Int("n", 20, "runs")
	bin := flag.String("stepbox", "bin/stepbox", "the stepbox binary, for rm")
	root := flag.String("root", "", "its --root")
	flag.Parse()
	args := flag.Args()
	if len(args) == 0 {
		fmt.Fprintf(os.Stderr, "usage: firstanswer [-n N] -root STATE -- COMMAND… (with %%d for the host port)\n")
		os.Exit(2)
	}
	var returned, answered []time.Duration
	var rss, anon, pss []int
	for range *n {
		port := freePort()
		argv := make([]string, len(args))
		for i, a := range args {
			argv[i] = strings.ReplaceAll(a, "%d", strconv.Itoa(port))
		}
		start := time.Now()
		out, err := exec.Command(argv[0], argv[1:]...).Output()
		ret := time.Since(start)
		if err != nil {
			fmt.Fprintf(os.Stderr, "firstanswer: %v: %v\n", argv, err)
			os.Exit(1)
		}
		id := strings.TrimSpace(string(out))
		for !answers(port) {
			if time.Since(start) > 10*time.Second {
				fmt.Fprintln(os.Stderr, "firstanswer: no answer in 10 s")
				remove(*bin, *root, id)
				os.Exit(1)
			}
			time.Sleep(200 * time.Microsecond)
		}
		returned, answered = append(returned, ret), append(answered, time.Since(start))
		if p := proxyOf(id); p > 0 {
			rss = append(rss, status(p, "VmRSS"))
			anon = append(anon, status(p, "RssAnon"))
			pss = append(pss, rollup(p, "Pss"))
		}
		remove(*bin, *root, id)
	}
	fmt.Printf("| run -d returns | first answer on the published port | proxy VmRSS | its RssAnon | its Pss |\n|---|---|---|---|---|\n")
	fmt.Printf("| %.2f ms | %.2f ms | %d KiB | %d KiB | %d KiB |\n", ms(median(returned)), ms(median(answered)),
		medianInt(rss), medianInt(anon), medianInt(pss))
}

func remove(bin, root, id string) {
	_ = exec.Command(bin, "--root", root, "rm", "-f", id).Run()
}

func freePort() int {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// answers reports whether an HTTP request to the port gets a 200.
func answers(port int) bool {
	c, err := net.DialTimeout("tcp4", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := io.WriteString(c, "GET / HTTP/1.0\r\n\r\n"); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.Contains(line, " 200 ")
}

// proxyOf finds the container's stepbox-proxy (its command line names the
// container's directory).
func proxyOf(id string) int {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if strings.TrimSpace(string(comm)) == "stepbox-proxy" && strings.Contains(string(cmdline), id) {
			return pid
		}
	}
	return 0
}

func status(pid int, key string) int { return field(fmt.Sprintf("/proc/%d/status", pid), key) }

func rollup(pid int, key string) int { return field(fmt.Sprintf("/proc/%d/smaps_rollup", pid), key) }

// field reads "KEY: N kB" from a proc(5) file.
func field(path, key string) int {
	b, _ := os.ReadFile(path)
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == key+":" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	return 0
}

func median(d []time.Duration) time.Duration {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[len(d)/2]
}

func medianInt(v []int) int {
	if len(v) == 0 {
		return 0
	}
	sort.Ints(v)
	return v[len(v)/2]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/stepbox/stepbox/internal/cast"
	"github.com/stepbox/stepbox/internal/hint"
	"github.com/stepbox/stepbox/internal/i18n"
	"github.com/stepbox/stepbox/internal/ui"
)

func init() { register("replay", newReplayCmd) }

var (
	msgMarkerTime = i18n.T("TIME", "시각")
	msgMarkerName = i18n.T("MARKER", "표시")
	msgNotACast   = i18n.T("a recording made with --record (asciicast v2), e.g. 'stepbox learn uts --record uts.cast'", "--record로 만든 녹화 파일(asciicast v2)을 주세요. 예: 'stepbox learn uts --record uts.cast'")
)

func newReplayCmd(g *globals) *cobra.Command {
	var speed float64
	var idle time.Duration
	var markers bool
	cmd := &cobra.Command{
		Use:   "replay FILE.cast",
		Short: "Play a recording made with --record, without asciinema",
		Long: `Play a recording made with 'stepbox learn --record' or 'stepbox tour --record'
(asciicast v2, which 'asciinema play' plays too) in this terminal, with its
pauses. --speed 2 plays it twice as fast; --idle-limit caps every pause;
--markers lists the steps it holds, with the time each starts at.

'stepbox learn --record'이나 'stepbox tour --record'로 만든 녹화(asciicast v2,
'asciinema play'로도 재생됩니다)를 이 터미널에서 멈춘 시간까지 그대로 재생합니다.
--speed 2는 두 배 빠르게, --idle-limit는 긴 멈춤을 줄이며, --markers는 녹화에 든
단계와 각 단계가 시작하는 시각을 보여 줍니다.`,
		Example: `  stepbox replay uts.cast
  stepbox replay tour.cast --speed 2 --idle-limit 1s
  stepbox replay tour.cast --markers`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			lang, err := g.Lang()
			if err != nil {
				return err
			}
			if speed <= 0 {
				return usagef("--speed %v: give a number above 0 (2 is twice as fast)", speed)
			}
			f, err := os.Open(args[0])
			if err != nil {
				return fmt.Errorf("replay: %w", err)
			}
			defer f.Close()
			h, evs, err := cast.Read(f)
			if err != nil {
				return hint.With(fmt.Errorf("replay %s: %w", args[0], err), msgNotACast.In(lang))
			}
			if markers {
				t := ui.Table{Header: []string{msgMarkerTime.In(lang), msgMarkerName.In(lang)}, MaxWidth: 80, Shrink: []int{1}, Style: g.Style()}
				for _, e := range evs {
					if e.Code == cast.Marker {
						d := time.Duration(e.Time * float64(time.Second))
						t.Add(fmt.Sprintf("%d:%04.1f", int(d.Minutes()), d.Seconds()-60*float64(int(d.Minutes()))), e.Data)
					}
				}
				return t.Render(g.stdout)
			}
			err = cast.Play(cmd.Context(), g.stdout, h, evs, cast.Options{Speed: speed, IdleLimit: idle})
			if errors.Is(err, cmd.Context().Err()) && err != nil {
				return withCode(130, nil)
			}
			return err
		},
	}
	cmd.Flags().Float64Var(&speed, "speed", 1, "play this many times as fast")
	cmd.Flags().DurationVar(&idle, "idle-limit", 0, "make no pause longer than this (default: the recording's own limit, if any)")
	cmd.Flags().BoolVar(&markers, "markers", false, "list the steps the recording marks, and when each starts")
	return cmd
}

package i18n

import "testing"

func TestDetect(t *testing.T) {
	for _, tc := range []struct {
		flag, stepbox, lcall, lang string
		want                       Lang
		wantErr                    bool
	}{
		{want: English},
		{lang: "ko_KR.UTF-8", want: Korean},
		{lang: "en_US.UTF-8", want: English},
		{lcall: "C", lang: "ko_KR.UTF-8", want: English},
		{stepbox: "ko", lang: "en_US.UTF-8", want: Korean},
		{flag: "en", stepbox: "ko", want: English},
		{flag: "fr", wantErr: true},
	} {
		t.Setenv("STEPBOX_LANG", tc.stepbox)
		t.Setenv("LC_ALL", tc.lcall)
		t.Setenv("LC_MESSAGES", "")
		t.Setenv("LANG", tc.lang)
		got, err := Detect(tc.flag)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("Detect(%q) with STEPBOX_LANG=%q LC_ALL=%q LANG=%q = %q, %v; want %q (error %v)",
				tc.flag, tc.stepbox, tc.lcall, tc.lang, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestText(t *testing.T) {
	x := T("hello", "안녕하세요")
	if x.In(Korean) != "안녕하세요" || x.In(English) != "hello" {
		t.Fatalf("In: %q %q", x.In(Korean), x.In(English))
	}
	if m := T("only", "").Missing(); len(m) != 1 || m[0] != Korean {
		t.Fatalf("Missing = %v", m)
	}
	if T("only", "").In(Korean) != "only" {
		t.Fatal("no English fallback")
	}
}

package sip

import (
	"fmt"
	"testing"
)

// all lists p's parameters as "name=value", or "name" without a value.
func all(p Params) []string {
	var out []string
	for q := p; len(q) > 0; {
		var name, value []byte
		name, value, q = q.Next()
		if value == nil {
			out = append(out, string(name))
		} else {
			out = append(out, string(name)+"="+string(value))
		}
	}
	return out
}

func TestParamsNext(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"lr", []string{"lr"}},
		{"transport=tcp;lr", []string{"transport=tcp", "lr"}},
		{`tag=x;foo="a;b"`, []string{"tag=x", `foo="a;b"`}},
		{`a="x\";y";b`, []string{`a="x\";y"`, "b"}},
		{`a="x\\";b`, []string{`a="x\\"`, "b"}},
		{`a="p=q";b=c`, []string{`a="p=q"`, "b=c"}},
		{"  tag    = 1918181833n ;  lr ; x\t=\ty ", []string{"tag=1918181833n", "lr", "x=y"}}, // RFC 4475 wsinv.dat
		{"a=;b", []string{"a=", "b"}},
		{"a;;b", []string{"a", "", "b"}},
		{"a;", []string{"a"}},
		{`a="unterminated;b`, []string{`a="unterminated;b`}},
		{"n%61me=v%61lue", []string{"n%61me=v%61lue"}},
	}
	for _, tt := range tests {
		if got := all(Params(tt.in)); fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("Params(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	// A name without '=' has a nil value; an empty one after '=' does not.
	if _, v, _ := Params("lr").Next(); v != nil {
		t.Errorf("lr: value %#v, want nil", v)
	}
	if _, v, _ := Params("a=").Next(); v == nil || len(v) != 0 {
		t.Errorf("a=: value %#v, want empty and not nil", v)
	}
}

func TestParamsGet(t *testing.T) {
	p := Params(`Tag=1928301774 ; foo = "a;b" ;lr;received=192.0.2.1;Q="x\";y";maddr=[2001:db8::1]`)
	tests := []struct {
		name  string
		value string
		ok    bool
	}{
		{"tag", "1928301774", true},
		{"TAG", "1928301774", true},
		{"foo", `"a;b"`, true},
		{"lr", "", true},
		{"LR", "", true},
		{"received", "192.0.2.1", true},
		{"q", `"x\";y"`, true},
		{"maddr", "[2001:db8::1]", true},
		{"y", "", false},
		{"b", "", false},
		{"ta", "", false},
	}
	for _, tt := range tests {
		v, ok := p.Get(tt.name)
		if ok != tt.ok || string(v) != tt.value {
			t.Errorf("Get(%q) = %q, %v, want %q, %v", tt.name, v, ok, tt.value, tt.ok)
		}
		if p.Has(tt.name) != tt.ok {
			t.Errorf("Has(%q) = %v", tt.name, !tt.ok)
		}
	}
	if v, ok := p.Get("lr"); !ok || v != nil {
		t.Errorf("Get(lr) = %#v, %v, want nil, true", v, ok)
	}
	// Header parameters are not URI text: '%' is a token character there.
	if Params("%6C%72").Has("lr") {
		t.Error(`Params("%6C%72").Has("lr") = true, want false`)
	}
	if v, ok := Params("x;a=1;A=2").Get("a"); !ok || string(v) != "1" {
		t.Errorf("Get(a) = %q, %v, want the first, 1", v, ok)
	}
}

func TestValidURIParams(t *testing.T) {
	valid := []string{
		"",
		"lr",
		"transport=tcp;lr",
		"%6C%72;n%61me=v%61lue%25%34%31", // RFC 4475 esc01.dat
		"maddr=[2001:db8::1];x=/:&+$",
		"user=phone;method=REGISTER;ttl=15",
		"lr;unknownwith=value;unknown-no-value",
	}
	invalid := []string{
		";", ";;", "a;;b", "a;", ";a",
		"=x", "a=", "a=;b", "a=b=c",
		"a b", " a", "a=b ", "a=%4", "a=%zz", "%g0",
		`a="b"`, "a=b?c", "a@b", "a,b",
		"lr;lr", "a=1;A=2", "lr;x;%6C%72",
	}
	for _, p := range valid {
		if !validURIParams([]byte(p)) {
			t.Errorf("validURIParams(%q) = false, want true", p)
		}
	}
	for _, p := range invalid {
		if validURIParams([]byte(p)) {
			t.Errorf("validURIParams(%q) = true, want false", p)
		}
	}
}

func TestCheckHeaderParams(t *testing.T) {
	valid := []string{
		"tag=x",
		"lr",
		"  tag    = 1918181833n ",
		"tag=x ; lr ;\tfoo=bar",
		`foo="a;b"`,
		`a="x\";y";b`,
		`a=""`,
		`a="tab\there and \\ and \"";b=c`,
		"received=192.0.2.1;branch=z9hG4bK-.!%66*_+`'~",
		"received=2001:db8::1;rport=5060",
		"received=[2001:db8::1]",
		"maddr=[::ffff:192.0.2.1]",
		"expires=3600;q=0.7",
		"fromParam''~+*_!.-%=\"\xd0\xb0\xd0\xb1\";tag=_token~1'+`*%!-.", // RFC 4475 intmeth.dat
		"x=\"\xf0\x9f\x93\x9e\"",
	}
	invalid := []string{
		"", " ", ";", ";;",
		"tag=1;tag=2", "a;A", "lr;x=1;LR", // RFC 3420 §3.2: no name twice "a;;b", "a; ;b", "a;", "a; ", ";a",
		"=x", "a=", "a= ", "a=;b",
		`a="unterminated`, `a="x\"`, `a="x"y`, `a="x" "y"`,
		"a=b c", "a b", "a=b=c", "a=<b>", "a=b,c", "a@b=c",
		"a=[::1", "a=[zz]", "a=[1.2.3.4]",
		"x=2001:db8::1",         // a bare IPv6 address is only a Via received
		"received=2001:db8:::1", // nor a broken one
		"a=\"x\r\ny\"",          // folding is already undone
		"a=\"x\\\n\"",           // CR and LF cannot be quoted
		"a=\"\xff\"",            // not UTF-8
		"a=\"\xd0\"",            // truncated UTF-8
		"a=\"\xd0\x41\"",        // bad continuation byte
		"a=\"\x7f\"",            // CTL
		"a=\"\x01\"",
	}
	for _, p := range valid {
		if !checkHeaderParams([]byte(p)) {
			t.Errorf("checkHeaderParams(%q) = false, want true", p)
		}
	}
	for _, p := range invalid {
		if checkHeaderParams([]byte(p)) {
			t.Errorf("checkHeaderParams(%q) = true, want false", p)
		}
	}
}

// FuzzHeaderParams checks that Next splits any parameter list that
// checkHeaderParams accepts into token names that Has then finds, each
// with no value or a non-empty one.
func FuzzHeaderParams(f *testing.F) {
	for _, s := range []string{`tag=x ; foo="a;b\"" ;lr`, "received=2001:db8::1;rport", "maddr=[::1]", `a="\xd0\xb0"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		validURIParams(in)
		checkFastParams(t, in)
		if !checkHeaderParams(in) {
			return
		}
		for q := Params(in); len(q) > 0; {
			var name, value []byte
			name, value, q = q.Next()
			if !isTokenString(name) {
				t.Fatalf("%q: name %q is not a token", in, name)
			}
			if !Params(in).Has(string(name)) {
				t.Fatalf("%q: Has(%q) = false", in, name)
			}
			if len(value) == 0 && value != nil {
				t.Fatalf("%q: %q has an empty value", in, name)
			}
		}
	})
}

// checkFastParams checks that eachHeaderParamFast, when it decides, gives
// the verdict of the general path and visits the same names and values.
func checkFastParams(t *testing.T, in []byte) {
	t.Helper()
	var fast, slow []string
	ok, done := eachHeaderParamFast(in, func(n, v []byte) bool {
		fast = append(fast, fmt.Sprintf("%q=%q/%v", n, v, v == nil))
		return true
	})
	if !done {
		return
	}
	want := eachHeaderParamSlow(in, nil)
	for q := Params(trimWS(in)); want && len(q) > 0; {
		var n, v []byte
		n, v, q = q.Next()
		slow = append(slow, fmt.Sprintf("%q=%q/%v", n, v, v == nil))
	}
	if ok != want || ok && fmt.Sprint(fast) != fmt.Sprint(slow) {
		t.Fatalf("%q: fast path %v %v, general path %v %v", in, ok, fast, want, slow)
	}
}

// validURIParams reports whether p, the text after the first ';' of
// uri-parameters, is well formed, an empty p standing for none.
func validURIParams(p []byte) bool {
	off, _ := checkURIParams(p)
	return len(p) == 0 || off < 0
}

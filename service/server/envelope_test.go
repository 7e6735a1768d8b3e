package server

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzWriteString: writeString writes exactly what json.Marshal writes for
// any string, so the envelope's bytes do not depend on which of the two
// wrote them.
func FuzzWriteString(f *testing.F) {
	for _, s := range []string{
		"", "Harbour View Hotel", `quote " backslash \ slash /`, "<script>&amp;</script>",
		"tab\t newline\n return\r backspace\b formfeed\f nul\x00 unit\x1f del\x7f",
		"Zürich 東京 😀", "line\u2028para\u2029", "bad \xff\xfe utf-8 \xe2\x82", "\xed\xa0\x80 surrogate",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		writeString(&b, s)
		if !bytes.Equal(b.Bytes(), want) {
			t.Fatalf("writeString(%q) = %s, json.Marshal = %s", s, b.Bytes(), want)
		}
	})
}

package chain

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestScrubbingConnFrames: what gorilla/websocket reads through
// scrubbingConn is what the node sent, message for message (fragmented
// ones, with a ping between their frames; payloads of each length
// encoding), except that an error object naming the key no longer does.
func TestScrubbingConnFrames(t *testing.T) {
	const key = "framekey0a1b2c3d4e5f"
	big := strings.Repeat("x", 70000)
	sent := []string{
		`{"jsonrpc":"2.0","id":1,"result":"0x1"}`,
		`{"jsonrpc":"2.0","id":2,"result":"` + strings.Repeat("y", 300) + `"}`,
		`{"jsonrpc":"2.0","id":3,"result":"` + big + `"}`,
		`{"jsonrpc":"2.0","id":4,"result":"a result may say ` + key + `"}`,
		`{"jsonrpc":"2.0","id":5,"error":{"code":-32000,"message":"over limit: /v3/` + key + ` ` + strings.Repeat("z", 200) + `"}}`,
	}
	want := append(append([]string(nil), sent[:4]...),
		`{"error":{"code":-32000,"message":"over limit: *** `+strings.Repeat("z", 200)+`"},"id":5,"jsonrpc":"2.0"}`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A small write buffer makes gorilla fragment the longer messages.
		c, err := (&websocket.Upgrader{WriteBufferSize: 64}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for i, m := range sent {
			wr, err := c.NextWriter(websocket.TextMessage)
			if err != nil {
				return
			}
			half := len(m) / 2
			_, _ = wr.Write([]byte(m[:half]))
			if i == 1 {
				_ = c.WriteControl(websocket.PingMessage, []byte("p"), time.Now().Add(time.Second))
			}
			_, _ = wr.Write([]byte(m[half:]))
			_ = wr.Close()
		}
		_, _, _ = c.ReadMessage() // until the client hangs up
	}))
	t.Cleanup(srv.Close)
	ep, err := parseEndpoint("ws://" + strings.TrimPrefix(srv.URL, "http://") + "/v3/" + key)
	if err != nil {
		t.Fatal(err)
	}
	d := &wsDialer{ep: ep}
	c, _, err := (&websocket.Dialer{NetDialContext: d.dial}).DialContext(t.Context(), ep.raw, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pings := 0
	c.SetPingHandler(func(string) error { pings++; return nil })
	for i, w := range want {
		_, got, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if !bytes.Equal(got, []byte(w)) {
			t.Errorf("message %d: got %.120q (%d bytes), want %.120q (%d bytes)", i, got, len(got), w, len(w))
		}
	}
	if pings != 1 {
		t.Errorf("%d pings passed, want 1", pings)
	}
}

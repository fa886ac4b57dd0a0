package chain

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/ethereum/go-ethereum/rpc"
	"github.com/gorilla/websocket"
)

// dialWS builds the rpc client of a ws(s) endpoint without reaching the
// node, as over http(s): a node that is down when the processor starts is
// then waited for (backend.WaitReady) instead of failing the start.
//
// go-ethereum's rpc client insists on one connection before it returns,
// and opens a new one itself whenever a write fails (a node gone and back,
// a dropped websocket). So the first connection is a stand-in, answered in
// memory (placeholder) and closed at once: the client's first call fails
// to write on it and dials the node for real, and every later one after a
// drop does the same. go-ethereum does not reconnect on its own: the next
// call does, and a node still down fails that call (and the next, and so
// on) until it answers.
//
// Every connection to the node goes through scrubbingConn when the URL has
// secrets, which redacts the JSON-RPC error objects of the node's messages
// before go-ethereum reads them, as endpointTransport does over http(s).
//
// HTTP(S)_PROXY is not honoured for ws(s) endpoints: the dial is ours
// (the stand-in, the scrubbing), and go-ethereum would only apply the
// proxy to it by doing TLS towards the proxy.
func dialWS(ctx context.Context, e *endpoint) (*rpc.Client, error) {
	d := &wsDialer{ep: e}
	d.placeholder.Store(true)
	dialer := websocket.Dialer{ReadBufferSize: 1024, WriteBufferSize: 1024}
	if e.url.Scheme == "wss" {
		dialer.NetDialTLSContext = d.dialTLS
	} else {
		dialer.NetDialContext = d.dial
	}
	return rpc.DialOptions(ctx, e.raw, rpc.WithWebsocketDialer(dialer))
}

// wsDialer dials the node's host for gorilla/websocket, which does the
// websocket handshake over what it returns.
type wsDialer struct {
	ep *endpoint
	// placeholder is true until the first dial, which gets the stand-in.
	placeholder atomic.Bool
}

func (d *wsDialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if d.placeholder.CompareAndSwap(true, false) {
		return placeholder(), nil
	}
	var nd net.Dialer
	c, err := nd.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return d.scrubbing(c), nil
}

// dialTLS is dial with TLS on top, as gorilla/websocket would do it (server
// name from addr, the system's roots): gorilla does no TLS of its own over
// a connection NetDialTLSContext returned.
func (d *wsDialer) dialTLS(ctx context.Context, network, addr string) (net.Conn, error) {
	if d.placeholder.CompareAndSwap(true, false) {
		return placeholder(), nil
	}
	td := tls.Dialer{Config: &tls.Config{MinVersion: tls.VersionTLS12}}
	c, err := td.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return d.scrubbing(c), nil
}

func (d *wsDialer) scrubbing(c net.Conn) net.Conn {
	if d.ep.guards == nil {
		return c
	}
	return &scrubbingConn{Conn: c, ep: d.ep, br: bufio.NewReader(c)}
}

// wsGUID is RFC 6455's constant for Sec-WebSocket-Accept.
const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// placeholder is a connection whose other end accepts the websocket
// handshake and hangs up: the rpc client then has a connection that fails
// its first write, and dials again.
func placeholder() net.Conn {
	client, server := net.Pipe()
	go func() {
		defer server.Close()
		req, err := http.ReadRequest(bufio.NewReader(server))
		if err != nil {
			return
		}
		sum := sha1.Sum([]byte(req.Header.Get("Sec-WebSocket-Key") + wsGUID))
		_, _ = io.WriteString(server, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
			"Sec-WebSocket-Accept: "+base64.StdEncoding.EncodeToString(sum[:])+"\r\n\r\n")
	}()
	return client
}

// scrubbingConn is the node's side of a websocket as gorilla/websocket
// reads it, with the secrets of the URL redacted from the error objects of
// the JSON-RPC messages (endpoint.scrubRPCErrors): the handshake's HTTP
// response passes as it is, then every data message is gathered from its
// frames, scrubbed if it mentions a secret, and handed on as one frame.
// Control frames (ping, pong, close) pass at once. Writes are untouched.
type scrubbingConn struct {
	net.Conn
	ep  *endpoint
	br  *bufio.Reader
	out bytes.Buffer // bytes ready for Read
	// upgraded is set once the handshake's 101 response has passed; raw
	// once another final response did (its body is no websocket).
	upgraded, raw bool
	// msg gathers the frames of the data message being read; op is its
	// first frame's first byte without FIN (RSV bits and opcode).
	msg []byte
	op  byte
}

func (c *scrubbingConn) Read(p []byte) (int, error) {
	for c.out.Len() == 0 {
		if c.raw {
			return c.br.Read(p)
		}
		var err error
		if c.upgraded {
			err = c.frame()
		} else {
			err = c.response()
		}
		if err != nil {
			return 0, err
		}
	}
	return c.out.Read(p)
}

// response passes one HTTP response's head (a proxy's answer to CONNECT
// may come first); a 101 ends the handshake, another final status leaves
// the rest as it is.
func (c *scrubbingConn) response() error {
	var code string
	for first := true; ; first = false {
		line, err := c.br.ReadString('\n')
		c.out.WriteString(line)
		if err != nil {
			c.raw = true // let gorilla see what came and the error
			return nil
		}
		if first {
			if status := strings.Fields(line); len(status) > 1 {
				code = status[1]
			}
		}
		if line == "\r\n" || line == "\n" {
			break
		}
	}
	c.upgraded = code == "101"
	c.raw = !c.upgraded && code != "200"
	return nil
}

// maxWSMessage bounds a message gathered from frames, as go-ethereum's
// client bounds what it reads (32 MiB).
const maxWSMessage = 32 << 20

// frame reads one frame (RFC 6455 5.2).
func (c *scrubbingConn) frame() error {
	var head [2]byte
	if _, err := io.ReadFull(c.br, head[:]); err != nil {
		return err
	}
	n := uint64(head[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(c.br, b[:]); err != nil {
			return err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(c.br, b[:]); err != nil {
			return err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	var mask []byte
	if head[1]&0x80 != 0 {
		mask = make([]byte, 4)
		if _, err := io.ReadFull(c.br, mask); err != nil {
			return err
		}
	}
	if n > maxWSMessage || uint64(len(c.msg))+n > maxWSMessage {
		return errors.New("websocket message too large")
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(c.br, payload); err != nil {
		return err
	}
	for i := range payload {
		if mask != nil {
			payload[i] ^= mask[i%4]
		}
	}
	fin, opcode := head[0]&0x80 != 0, head[0]&0x0f
	if opcode >= 8 { // control frames are never fragmented
		c.emit(head[0], payload)
		return nil
	}
	if opcode != 0 { // the first frame of a message
		c.op, c.msg = head[0]&0x7f, nil
	}
	c.msg = append(c.msg, payload...)
	if !fin {
		return nil
	}
	msg := c.msg
	if c.ep.mentions(msg) {
		msg = c.ep.scrubRPCErrors(msg)
	}
	c.emit(0x80|c.op, msg)
	c.msg = nil
	return nil
}

// emit writes an unmasked frame with first byte b0.
func (c *scrubbingConn) emit(b0 byte, payload []byte) {
	c.out.WriteByte(b0)
	switch n := len(payload); {
	case n < 126:
		c.out.WriteByte(byte(n))
	case n <= 0xffff:
		c.out.WriteByte(126)
		c.out.Write(binary.BigEndian.AppendUint16(nil, uint16(n)))
	default:
		c.out.WriteByte(127)
		c.out.Write(binary.BigEndian.AppendUint64(nil, uint64(n)))
	}
	c.out.Write(payload)
}

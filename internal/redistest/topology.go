package redistest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/etherisc/depeg-relay/internal/freeport"
	"github.com/etherisc/depeg-relay/internal/poll"
	"github.com/etherisc/depeg-relay/internal/redisproc"
)

// Replicated deployments for tests: a master with a replica watched by
// sentinels, and a Redis Cluster. Every process is a real redis-server on a
// free loopback port, stopped when the test ends.

// startProcess runs redis-server with args (plus port, bind and dir), waits
// until it answers PING, and kills it when the test ends.
func startProcess(t testing.TB, port int, dir string, args ...string) *redisproc.Process {
	t.Helper()
	p, err := redisproc.Start(context.Background(), redisproc.Options{Port: port, Dir: dir, Args: args})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Kill() })
	return p
}

// Node is one process of a replicated deployment.
type Node struct {
	Port int
	proc *redisproc.Process
}

// Addr is host:port of the node.
func (n *Node) Addr() string { return fmt.Sprintf("127.0.0.1:%d", n.Port) }

// Kill ends the node at once, as a crash would.
func (n *Node) Kill() {
	_ = n.proc.Kill()
	n.proc = nil
}

// Sentinels is a master, one replica and three sentinels watching them
// under MasterName.
type Sentinels struct {
	MasterName string
	Master     *Node
	Replica    *Node
	Sentinels  []*Node
}

// StartSentinels launches the master, its replica and three sentinels that
// declare the master down after 500 ms, so a failover takes a few seconds.
func StartSentinels(t testing.TB) *Sentinels {
	t.Helper()
	s := &Sentinels{MasterName: "relaymaster"}
	s.Master = &Node{Port: freeport.Get(t)}
	s.Master.proc = startProcess(t, s.Master.Port, t.TempDir(), "--save", "", "--appendonly", "no")
	s.Replica = &Node{Port: freeport.Get(t)}
	s.Replica.proc = startProcess(t, s.Replica.Port, t.TempDir(), "--save", "", "--appendonly", "no",
		"--replicaof", "127.0.0.1", strconv.Itoa(s.Master.Port))
	replica := redis.NewClient(&redis.Options{Addr: s.Replica.Addr()})
	defer replica.Close()
	poll.Until(t, 10*time.Second, "replica in sync", func() bool {
		info, err := replica.Info(context.Background(), "replication").Result()
		return err == nil && strings.Contains(info, "master_link_status:up")
	})
	for range 3 {
		dir := t.TempDir()
		conf := filepath.Join(dir, "sentinel.conf")
		body := fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d 2\n"+
			"sentinel down-after-milliseconds %s 500\n"+
			"sentinel failover-timeout %s 3000\n"+
			"sentinel parallel-syncs %s 1\n", s.MasterName, s.Master.Port, s.MasterName, s.MasterName, s.MasterName)
		if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		n := &Node{Port: freeport.Get(t)}
		// A sentinel takes its config file as the first argument and
		// rewrites it, so it lives in the node's own directory.
		n.proc = startSentinel(t, n.Port, dir, conf)
		s.Sentinels = append(s.Sentinels, n)
	}
	return s
}

func startSentinel(t testing.TB, port int, dir, conf string) *redisproc.Process {
	t.Helper()
	cmd, err := redisproc.Start(context.Background(), redisproc.Options{Port: port, Dir: dir, ConfigFile: conf, Args: []string{"--sentinel"}})
	if err != nil {
		t.Fatalf("start redis-sentinel: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Kill() })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	err = poll.Wait(context.Background(), 10*time.Second, 20*time.Millisecond, func() error {
		c := redis.NewSentinelClient(&redis.Options{Addr: addr})
		defer c.Close()
		_, err := c.GetMasterAddrByName(context.Background(), "relaymaster").Result()
		return err
	})
	if err != nil {
		log, _ := os.ReadFile(cmd.LogFile)
		t.Fatalf("sentinel on %s does not know the master: %v\n%s", addr, err, log)
	}
	return cmd
}

// URL is REDIS_URL for REDIS_MODE=sentinel: the sentinels and the master
// name, in go-redis's failover URL form.
func (s *Sentinels) URL() string {
	u := "redis://" + s.Sentinels[0].Addr() + "?master_name=" + s.MasterName
	for _, n := range s.Sentinels[1:] {
		u += "&addr=" + n.Addr()
	}
	return u
}

// MasterAddr asks a live sentinel which node is the master now.
func (s *Sentinels) MasterAddr(ctx context.Context) (string, error) {
	var last error
	for _, n := range s.Sentinels {
		if n.proc == nil {
			continue
		}
		c := redis.NewSentinelClient(&redis.Options{Addr: n.Addr()})
		addr, err := c.GetMasterAddrByName(ctx, s.MasterName).Result()
		c.Close()
		if err == nil {
			return addr[0] + ":" + addr[1], nil
		}
		last = err
	}
	return "", fmt.Errorf("no sentinel answers: %w", last)
}

// Cluster is a Redis Cluster of masters without replicas.
type Cluster struct {
	Nodes []*Node
}

// StartCluster launches n cluster-enabled redis-servers and joins them into
// one cluster (redis-cli --cluster create), waiting until every slot is
// served.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	if _, err := exec.LookPath("redis-cli"); err != nil {
		t.Fatalf("redis-cli not found in PATH (it comes with redis-server): %v", err)
	}
	c := &Cluster{}
	var addrs []string
	for range n {
		dir := t.TempDir()
		node := &Node{Port: freeport.Get(t)}
		node.proc = startProcess(t, node.Port, dir, "--save", "", "--appendonly", "no",
			"--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(dir, "nodes.conf"),
			"--cluster-node-timeout", "2000")
		c.Nodes = append(c.Nodes, node)
		addrs = append(addrs, node.Addr())
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	out, err := exec.Command("redis-cli", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	first := redis.NewClient(&redis.Options{Addr: addrs[0]})
	defer first.Close()
	poll.Until(t, 20*time.Second, "cluster state ok", func() bool {
		info, err := first.ClusterInfo(context.Background()).Result()
		return err == nil && strings.Contains(info, "cluster_state:ok")
	})
	return c
}

// URL is REDIS_URL for REDIS_MODE=cluster: the seed nodes in go-redis's
// cluster URL form.
func (c *Cluster) URL() string {
	u := "redis://" + c.Nodes[0].Addr()
	for i, n := range c.Nodes[1:] {
		sep := "&"
		if i == 0 {
			sep = "?"
		}
		u += sep + "addr=" + n.Addr()
	}
	return u
}

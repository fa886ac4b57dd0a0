package bench

import (
	"bufio"
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/etherisc/depeg-relay/internal/redistest"
)

// StartRedis starts redis-server (internal/redistest, the launcher the tests
// use) on a free loopback port, never the machine's own 6379, without
// persistence, with keyevent notifications for generic commands (DEL), which
// the harness uses to time each acknowledgement: the relay deletes the
// application hash in the same pipeline as its XACK. The caller Closes it.
func StartRedis() (*redistest.Server, error) {
	return redistest.Launch(redistest.Options{Args: []string{"--notify-keyspace-events", "Eg"}})
}

// CommandStats reads INFO commandstats: calls by command name.
func CommandStats(ctx context.Context, c *redis.Client) (map[string]int64, error) {
	info, err := c.Info(ctx, "commandstats").Result()
	if err != nil {
		return nil, fmt.Errorf("info commandstats: %w", err)
	}
	return parseCommandStats(info), nil
}

// parseCommandStats parses lines like
// "cmdstat_xreadgroup:calls=12,usec=80,usec_per_call=6.67,...".
func parseCommandStats(info string) map[string]int64 {
	out := map[string]int64{}
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		name, rest, ok := strings.Cut(line, ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") {
			continue
		}
		for _, kv := range strings.Split(rest, ",") {
			if v, ok := strings.CutPrefix(kv, "calls="); ok {
				n, _ := strconv.ParseInt(v, 10, 64)
				out[strings.TrimPrefix(name, "cmdstat_")] = n
			}
		}
	}
	return out
}

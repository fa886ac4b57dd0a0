// Package redisconn opens the relay's Redis client from REDIS_URL and
// REDIS_MODE: a single node, a Sentinel-managed master, or a Cluster, all
// behind go-redis's UniversalClient so the rest of the service does not care
// which. The URL forms are go-redis's own (ParseURL, ParseFailoverURL,
// ParseClusterURL), so every option they take can be set in the URL.
//
// What Cluster requires of the relay (docs/design.md, "Redis keys the relay
// adds"): every MULTI or Lua script touches keys of one hash slot only. The
// relay's own keys share a hash tag per use; the frontend's keys
// (PendingApplication:*, the stream) carry none and are only ever combined in
// pipelines, which the cluster client splits by slot.
package redisconn

import (
	"errors"
	"fmt"
	"net/url"

	"github.com/redis/go-redis/v9"
)

// Modes of REDIS_MODE.
const (
	// Single: REDIS_URL names one server, redis://[user:password@]host:port/db.
	Single = "single"
	// Sentinel: REDIS_URL names the sentinels and the master,
	// redis://[sentinel-user:sentinel-password@]sentinel1:26379?master_name=mymaster&addr=sentinel2:26379&password=<master password>.
	Sentinel = "sentinel"
	// Cluster: REDIS_URL names seed nodes,
	// redis://[user:password@]node1:6379?addr=node2:6379&addr=node3:6379.
	Cluster = "cluster"
)

// Modes lists the valid values of REDIS_MODE.
func Modes() []string { return []string{Single, Sentinel, Cluster} }

// ErrMode is returned for an unknown mode.
var ErrMode = errors.New("unknown redis mode")

// Open builds the client for mode from url. It does not connect: go-redis
// dials on first use. Errors never contain the URL, which may hold passwords;
// go-redis's parse errors quote parts of it, so they are replaced by a
// description of what is wrong.
func Open(mode, rawURL string) (redis.UniversalClient, error) {
	switch mode {
	case "", Single:
		opts, err := redis.ParseURL(rawURL)
		if err != nil {
			return nil, fmt.Errorf("REDIS_URL is not a valid single-node redis URL (%s)", describe(rawURL))
		}
		return redis.NewClient(opts), nil
	case Sentinel:
		opts, err := redis.ParseFailoverURL(rawURL)
		if err != nil {
			return nil, fmt.Errorf("REDIS_URL is not a valid sentinel URL (%s)", describe(rawURL))
		}
		if opts.MasterName == "" {
			return nil, errors.New("REDIS_URL: REDIS_MODE=sentinel needs ?master_name=<name>")
		}
		return redis.NewFailoverClient(opts), nil
	case Cluster:
		opts, err := redis.ParseClusterURL(rawURL)
		if err != nil {
			return nil, fmt.Errorf("REDIS_URL is not a valid cluster URL (%s)", describe(rawURL))
		}
		return redis.NewClusterClient(opts), nil
	default:
		return nil, fmt.Errorf("%w %q, want one of %v", ErrMode, mode, Modes())
	}
}

// describe says what kind of URL raw is without quoting any of it.
func describe(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return "does not parse"
	case u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix":
		return "scheme is not redis, rediss or unix"
	case u.Host == "" && u.Scheme != "unix":
		return "no host"
	default:
		return "an option in its query or path is not valid"
	}
}

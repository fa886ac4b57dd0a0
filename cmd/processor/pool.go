package main

import (
	"fmt"
	"os"
	"strings"
)

// defaultConsumerBase names this process in the consumer group when
// REDIS_QUEUE_CONSUMER_ID is unset: host and pid, so that two processes
// (two containers of a zero-downtime deploy, a scaled Dokku app) never read
// under one name. Each key's relay reads as "<base>/<wallet>".
func defaultConsumerBase() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "processor"
	}
	host = strings.Map(func(r rune) rune {
		if r <= ' ' || r == 0x7f || r == '/' {
			return '-'
		}
		return r
	}, host)
	if len(host) > 48 {
		host = host[:48]
	}
	return fmt.Sprintf("%s-%d", host, os.Getpid())
}

// keyConsumer is the consumer name of one key's relay in this process.
func keyConsumer(base, wallet string) string { return base + "/" + wallet }

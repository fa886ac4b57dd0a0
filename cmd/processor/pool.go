package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/etherisc/depeg-relay/config"
	"github.com/etherisc/depeg-relay/pool"
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

// finisherConfig is the pool finisher's settings from the config: own are
// this process's wallets (their journals are its relays' business), status
// and product as its relays record and read them. BatchContract is
// BATCH_CONTRACT_ADDRESS, whose events tell the fate of each application of
// a dead key's batch transaction.
func finisherConfig(cfg config.Config, own map[string]bool, status pool.Status, product pool.Product) pool.FinisherConfig {
	return pool.FinisherConfig{
		Confirmations: cfg.RequiredConfirmations, HandOnAfter: cfg.OrphanHandoffAfter, LeaseTTL: cfg.LeaseTTL,
		RPCTimeout: cfg.RPCTimeout, Own: own, Status: status, Product: product, BatchContract: cfg.BatchContract,
	}
}

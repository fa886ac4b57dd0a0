// Command enqueue plays the web frontend: it signs sample policy applications
// with fresh EIP-712 keys, writes them in the frontend's Redis layout
// (PendingApplication:<entityId> hash, then XADD {entityId}) and prints the
// entry ids. With -bad it adds the malformed cases the relay must
// dead-letter. It works against dev mode and against any deployment's Redis.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/redis/go-redis/v9"

	"github.com/etherisc/depeg-relay/chain/depeg"
	"github.com/etherisc/depeg-relay/frontend"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "enqueue:", err)
		os.Exit(1)
	}
}

func run() error {
	redisURL := flag.String("redis", envOr("REDIS_URL", "redis://localhost:6379"), "Redis URL")
	rpcURL := flag.String("rpc", envOr("CHAIN_RPC_URL", "http://127.0.0.1:8545"), "chain JSON-RPC URL (for the chain id and the message helper address)")
	product := flag.String("product", os.Getenv("DEPEG_PRODUCT_ADDRESS"), "DepegProduct address")
	streamKey := flag.String("stream", envOr("REDIS_QUEUE_STREAM_KEY", "application:signatures"), "stream key")
	n := flag.Int("n", 5, "number of valid applications")
	bundle := flag.Int64("bundle", 1, "bundle id of the valid applications")
	bad := flag.Bool("bad", false, "also enqueue malformed and rejected cases")
	flag.Parse()
	if !common.IsHexAddress(*product) {
		return errors.New("-product (or DEPEG_PRODUCT_ADDRESS) must be the DepegProduct address")
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ec, err := ethclient.DialContext(ctx, *rpcURL)
	if err != nil {
		return fmt.Errorf("dial chain: %w", err)
	}
	defer ec.Close()
	chainID, err := ec.ChainID(ctx)
	if err != nil {
		return fmt.Errorf("read chain id: %w", err)
	}
	binding := depeg.NewDepegProduct()
	helper, err := bindCallHelper(ctx, ec, binding, common.HexToAddress(*product))
	if err != nil {
		return err
	}
	opts, err := redis.ParseURL(*redisURL)
	if err != nil {
		return errors.New("-redis is not a valid redis URL")
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()

	for range *n {
		app, err := frontend.NewSigned(chainID, helper, *bundle)
		if err != nil {
			return err
		}
		id := frontend.NewEntityID()
		entry, err := frontend.Enqueue(ctx, rdb, *streamKey, id, frontend.Fields(app))
		if err != nil {
			return err
		}
		fmt.Printf("enqueued %s entityId=%s signatureId=%s policyHolder=%s\n", entry, id, app.SignatureID, app.PolicyHolder.Hex())
	}
	if *bad {
		cases, err := frontend.BadCases(chainID, helper)
		if err != nil {
			return err
		}
		for _, bc := range cases {
			entry, err := frontend.EnqueueBadCase(ctx, rdb, *streamKey, bc)
			if err != nil {
				return err
			}
			fmt.Printf("enqueued %s bad case %s (expect a dead letter mentioning %q)\n", entry, bc.Name, bc.WantReasonContains)
		}
	}
	return nil
}

// bindCallHelper asks the product for its message helper, the EIP-712
// verifyingContract the frontend signs for.
func bindCallHelper(ctx context.Context, ec *ethclient.Client, b *depeg.DepegProduct, product common.Address) (common.Address, error) {
	out, err := ec.CallContract(ctx, ethereumCall(product, b.PackGetMessageHelperAddress()), nil)
	if err != nil {
		return common.Address{}, fmt.Errorf("call getMessageHelperAddress on %s: %w", product.Hex(), err)
	}
	helper, err := b.UnpackGetMessageHelperAddress(out)
	if err != nil {
		return common.Address{}, fmt.Errorf("decode message helper address: %w", err)
	}
	return helper, nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func ethereumCall(to common.Address, data []byte) ethereum.CallMsg {
	return ethereum.CallMsg{To: &to, Data: data}
}

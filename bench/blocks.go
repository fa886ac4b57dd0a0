package bench

import (
	"context"
	"fmt"
	"math/big"
	"time"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/etherisc/depeg-relay/devchain"
)

// BlockInfo is one block sealed during the run.
type BlockInfo struct {
	Number     uint64  `json:"number"`
	T          float64 `json:"t"`      // seconds since the first enqueue
	SealMs     float64 `json:"sealMs"` // how long sealing took
	GasUsed    uint64  `json:"gasUsed"`
	GasLimit   uint64  `json:"gasLimit"`
	Ours       int     `json:"applications"`
	BaseFeeWei string  `json:"baseFeeWei"`
	maxTxGas   uint64
	baseFee    *big.Int
}

// readBlocks reads every block sealed after t0 straight from the chain (not
// through the proxy) and marks when each application was included.
func readBlocks(ctx context.Context, dc *devchain.Chain, obs *observer, seals []seal, t0 time.Time) ([]BlockInfo, error) {
	var out []BlockInfo
	for _, s := range seals {
		if s.At.Before(t0) || s.Hash == ([32]byte{}) {
			continue
		}
		blk, err := dc.Client.BlockByHash(ctx, s.Hash)
		if err != nil {
			return nil, fmt.Errorf("read block %s: %w", s.Hash, err)
		}
		b := BlockInfo{Number: blk.NumberU64(), T: s.At.Sub(t0).Seconds(), SealMs: ms(s.Took),
			GasUsed: blk.GasUsed(), GasLimit: blk.GasLimit(), baseFee: blk.BaseFee()}
		if b.baseFee != nil {
			b.BaseFeeWei = b.baseFee.String()
		}
		obs.mu.Lock()
		for _, tx := range blk.Transactions() {
			if tx.To() == nil || *tx.To() != dc.Product {
				continue
			}
			sig, err := productABI.SignatureOf(tx.Data())
			if err != nil {
				continue
			}
			i, ok := obs.bySig[crypto.Keccak256Hash(sig)]
			if !ok {
				continue
			}
			b.Ours++
			b.maxTxGas = max(b.maxTxGas, tx.Gas())
			if a := obs.apps[i]; a.minedAt.IsZero() {
				a.minedAt, a.minedBlock = s.At, b.Number
			}
		}
		obs.mu.Unlock()
		out = append(out, b)
	}
	return out, nil
}

// BlockSummary says how full the blocks were kept while there was a backlog.
type BlockSummary struct {
	// GasPerApp is the mean gas used by one application in the run;
	// TxGasLimit the largest gas limit the relay gave one (estimate plus
	// GAS_LIMIT_MARGIN_PERCENT). A block takes a transaction only while its
	// whole gas limit still fits, so Capacity is
	// 1 + (block gas limit - TxGasLimit) / GasPerApp.
	GasPerApp  uint64 `json:"gasPerApp"`
	TxGasLimit uint64 `json:"txGasLimit"`
	Capacity   int    `json:"capacityPerBlock"`
	// Blocks is the drain window: from the first block that included one of
	// the applications up to, not including, the block that included the
	// last one (that block takes whatever remains, full or not).
	Blocks         int     `json:"blocks"`
	MeanFill       float64 `json:"meanFill"` // applications / capacity
	MinFill        float64 `json:"minFill"`
	AtLeast90      int     `json:"blocksAtLeast90"`
	ShareAtLeast90 float64 `json:"shareAtLeast90"`
	MeanGasFill    float64 `json:"meanGasFill"` // gas used / block gas limit
	// IdleBefore is how many blocks were sealed between the first enqueue
	// and the first block that included an application.
	IdleBefore int `json:"blocksBeforeFirstInclusion"`
	// Total is every block from the first enqueue to the last inclusion.
	Total int `json:"blocksTotal"`
}

func summariseBlocks(blocks []BlockInfo, gasLimit uint64) BlockSummary {
	var s BlockSummary
	first, last := -1, -1
	var gas uint64
	apps := 0
	for i, b := range blocks {
		if b.Ours == 0 {
			continue
		}
		if first < 0 {
			first = i
		}
		last = i
		gas += b.GasUsed
		apps += b.Ours
		s.TxGasLimit = max(s.TxGasLimit, b.maxTxGas)
	}
	if first < 0 {
		return s
	}
	s.GasPerApp = gas / uint64(apps)
	if s.GasPerApp > 0 && gasLimit >= s.TxGasLimit {
		s.Capacity = 1 + int((gasLimit-s.TxGasLimit)/s.GasPerApp)
	}
	s.IdleBefore = first
	s.Total = last + 1
	s.MinFill = 1
	for _, b := range blocks[first:last] {
		s.Blocks++
		fill := float64(b.Ours) / float64(max(s.Capacity, 1))
		s.MeanFill += fill
		s.MinFill = min(s.MinFill, fill)
		s.MeanGasFill += float64(b.GasUsed) / float64(b.GasLimit)
		if fill >= 0.9 {
			s.AtLeast90++
		}
	}
	if s.Blocks > 0 {
		s.MeanFill /= float64(s.Blocks)
		s.MeanGasFill /= float64(s.Blocks)
		s.ShareAtLeast90 = float64(s.AtLeast90) / float64(s.Blocks)
	} else {
		s.MinFill = 0
	}
	return s
}

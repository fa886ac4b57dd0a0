package bench

import (
	"context"
	"fmt"
	"math/big"
	"sort"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/etherisc/depeg-relay/devchain"
)

// BlockInfo is one block sealed during the run.
type BlockInfo struct {
	Number   uint64  `json:"number"`
	T        float64 `json:"t"`      // seconds since the first enqueue
	SealMs   float64 `json:"sealMs"` // how long sealing took
	GasUsed  uint64  `json:"gasUsed"`
	GasLimit uint64  `json:"gasLimit"`
	Ours     int     `json:"applications"`
	// Txs is how many transactions carried Ours (fewer with batching);
	// OurGas the gas their receipts used.
	Txs        int    `json:"transactions"`
	OurGas     uint64 `json:"gasUsedByOurs"`
	BaseFeeWei string `json:"baseFeeWei"`
	// maxTxGas is the largest gas limit among our transactions, and
	// maxTxApps the applications that transaction carried.
	maxTxGas  uint64
	maxTxApps int
	baseFee   *big.Int
	// sealStart is when the block began to be sealed: what was enqueued
	// after it cannot be in it.
	sealStart time.Time
}

// readBlocks reads every block sealed after t0 straight from the chain (not
// through the proxy) and marks when each application was included.
func readBlocks(ctx context.Context, dc *devchain.Chain, obs *observer, seals []seal, t0 time.Time) ([]BlockInfo, error) {
	ours := map[common.Address]bool{dc.Product: true}
	if dc.Batch != (common.Address{}) {
		ours[dc.Batch] = true
	}
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
			GasUsed: blk.GasUsed(), GasLimit: blk.GasLimit(), baseFee: blk.BaseFee(), sealStart: s.At.Add(-s.Took)}
		if b.baseFee != nil {
			b.BaseFeeWei = b.baseFee.String()
		}
		var ourTxs []common.Hash
		obs.mu.Lock()
		for _, tx := range blk.Transactions() {
			if tx.To() == nil || !ours[*tx.To()] {
				continue
			}
			apps := 0
			for _, h := range carried(tx.Data()) {
				i, ok := obs.bySig[h]
				if !ok {
					continue
				}
				apps++
				if a := obs.apps[i]; a.minedAt.IsZero() {
					a.minedAt, a.minedBlock = s.At, b.Number
				}
			}
			if apps == 0 {
				continue
			}
			b.Ours += apps
			b.Txs++
			ourTxs = append(ourTxs, tx.Hash())
			if tx.Gas() > b.maxTxGas {
				b.maxTxGas, b.maxTxApps = tx.Gas(), apps
			}
		}
		obs.mu.Unlock()
		if len(ourTxs) > 0 {
			if b.OurGas, err = gasUsed(ctx, dc, s.Hash, ourTxs); err != nil {
				return nil, err
			}
		}
		out = append(out, b)
	}
	return out, nil
}

// gasUsed sums the gas the receipts of txs in block used.
func gasUsed(ctx context.Context, dc *devchain.Chain, block common.Hash, txs []common.Hash) (uint64, error) {
	rs, err := dc.Client.BlockReceipts(ctx, rpc.BlockNumberOrHashWithHash(block, false))
	if err != nil {
		return 0, fmt.Errorf("read receipts of block %s: %w", block, err)
	}
	want := make(map[common.Hash]bool, len(txs))
	for _, h := range txs {
		want[h] = true
	}
	var g uint64
	for _, r := range rs {
		if want[r.TxHash] {
			g += r.GasUsed
		}
	}
	return g, nil
}

// BlockSummary says how full the blocks were kept while there was a backlog.
type BlockSummary struct {
	// GasPerApp is the mean gas used by one application in the run (our
	// transactions' receipts over the applications they carried);
	// TxGasLimit the largest gas limit the relay gave a transaction
	// (estimate plus GAS_LIMIT_MARGIN_PERCENT; for a batch, batch.GasFor),
	// and TxGasLimitApps the applications that transaction carried. A
	// block takes a transaction only while its whole gas limit still fits,
	// so Capacity is TxGasLimitApps + (block gas limit - TxGasLimit) /
	// GasPerApp: 1 + ... without batching.
	GasPerApp      uint64 `json:"gasPerApp"`
	TxGasLimit     uint64 `json:"txGasLimit"`
	TxGasLimitApps int    `json:"txGasLimitApplications"`
	Capacity       int    `json:"capacityPerBlock"`
	// Transactions is how many of ours carried the applications, and
	// AppsPerTx the mean applications per transaction (1 without
	// batching), over every block that included one.
	Transactions int     `json:"transactions"`
	AppsPerTx    float64 `json:"applicationsPerTransaction"`
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
		gas += b.OurGas
		apps += b.Ours
		s.Transactions += b.Txs
		if b.maxTxGas > s.TxGasLimit {
			s.TxGasLimit, s.TxGasLimitApps = b.maxTxGas, b.maxTxApps
		}
	}
	if first < 0 {
		return s
	}
	s.GasPerApp = gas / uint64(apps)
	s.AppsPerTx = float64(apps) / float64(max(s.Transactions, 1))
	if s.GasPerApp > 0 && gasLimit >= s.TxGasLimit {
		s.Capacity = s.TxGasLimitApps + int((gasLimit-s.TxGasLimit)/s.GasPerApp)
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

// blocksWaited is how many blocks an application enqueued at enqueued and
// included in block mined waited: 1 when the first block sealed after its
// enqueue included it, 2 for the one after, and so on. The head at enqueue
// is the last block whose sealing began before it (blocks are in seal
// order); before the first block of the run, the block before it.
func blocksWaited(blocks []BlockInfo, enqueued time.Time, mined uint64) (int, bool) {
	if len(blocks) == 0 || mined == 0 {
		return 0, false
	}
	i := sort.Search(len(blocks), func(i int) bool { return blocks[i].sealStart.After(enqueued) })
	head := blocks[0].Number - 1
	if i > 0 {
		head = blocks[i-1].Number
	}
	if mined <= head {
		return 0, false // mined before it was enqueued: not a figure of this run
	}
	return int(mined - head), true
}

package chain

import (
	"errors"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
)

// rpcReceipt is eth_getTransactionReceipt's answer as go-ethereum's
// types.Receipt reads it (the same fields, the same required ones), but
// decoded in one json.Unmarshal. types.Receipt and types.Log each have an
// UnmarshalJSON that unmarshals again into a private copy of themselves,
// so encoding/json scanned a receipt's logs about eight times (the rpc
// client's two passes, then a validate and a decode per level); receipts
// are the tracker's largest read (two per application), and those scans
// were a third of the relay's CPU in the 5,000 backlog bench (issue 21).
type rpcReceipt struct {
	Type              *hexutil.Uint64 `json:"type"`
	PostState         *hexutil.Bytes  `json:"root"`
	Status            *hexutil.Uint64 `json:"status"`
	CumulativeGasUsed *hexutil.Uint64 `json:"cumulativeGasUsed"`
	Bloom             *types.Bloom    `json:"logsBloom"`
	Logs              []*rpcLog       `json:"logs"`
	TxHash            *common.Hash    `json:"transactionHash"`
	ContractAddress   *common.Address `json:"contractAddress"`
	GasUsed           *hexutil.Uint64 `json:"gasUsed"`
	EffectiveGasPrice *hexutil.Big    `json:"effectiveGasPrice"`
	BlobGasUsed       *hexutil.Uint64 `json:"blobGasUsed"`
	BlobGasPrice      *hexutil.Big    `json:"blobGasPrice"`
	BlockHash         *common.Hash    `json:"blockHash"`
	BlockNumber       *hexutil.Big    `json:"blockNumber"`
	TransactionIndex  *hexutil.Uint   `json:"transactionIndex"`
}

// rpcLog is types.Log's JSON form, without its UnmarshalJSON.
type rpcLog struct {
	Address        *common.Address `json:"address"`
	Topics         []common.Hash   `json:"topics"`
	Data           *hexutil.Bytes  `json:"data"`
	BlockNumber    *hexutil.Uint64 `json:"blockNumber"`
	TxHash         *common.Hash    `json:"transactionHash"`
	TxIndex        *hexutil.Uint   `json:"transactionIndex"`
	BlockHash      *common.Hash    `json:"blockHash"`
	BlockTimestamp *hexutil.Uint64 `json:"blockTimestamp"`
	Index          *hexutil.Uint   `json:"logIndex"`
	Removed        *bool           `json:"removed"`
}

// receipt is the types.Receipt that types.Receipt.UnmarshalJSON would have
// made of the same JSON, with the same errors for a missing required field.
func (d *rpcReceipt) receipt() (*types.Receipt, error) {
	var r types.Receipt
	if d.Type != nil {
		r.Type = uint8(*d.Type)
	}
	if d.PostState != nil {
		r.PostState = *d.PostState
	}
	if d.Status != nil {
		r.Status = uint64(*d.Status)
	}
	if d.CumulativeGasUsed == nil {
		return nil, errors.New("missing required field 'cumulativeGasUsed' for Receipt")
	}
	r.CumulativeGasUsed = uint64(*d.CumulativeGasUsed)
	if d.Bloom == nil {
		return nil, errors.New("missing required field 'logsBloom' for Receipt")
	}
	r.Bloom = *d.Bloom
	if d.Logs == nil {
		return nil, errors.New("missing required field 'logs' for Receipt")
	}
	r.Logs = make([]*types.Log, len(d.Logs))
	for i, l := range d.Logs {
		if l == nil { // JSON null in the array: types.Log would keep it nil too
			continue
		}
		var err error
		if r.Logs[i], err = l.log(); err != nil {
			return nil, err
		}
	}
	if d.TxHash == nil {
		return nil, errors.New("missing required field 'transactionHash' for Receipt")
	}
	r.TxHash = *d.TxHash
	if d.ContractAddress != nil {
		r.ContractAddress = *d.ContractAddress
	}
	if d.GasUsed == nil {
		return nil, errors.New("missing required field 'gasUsed' for Receipt")
	}
	r.GasUsed = uint64(*d.GasUsed)
	if d.EffectiveGasPrice != nil {
		r.EffectiveGasPrice = (*big.Int)(d.EffectiveGasPrice)
	}
	if d.BlobGasUsed != nil {
		r.BlobGasUsed = uint64(*d.BlobGasUsed)
	}
	if d.BlobGasPrice != nil {
		r.BlobGasPrice = (*big.Int)(d.BlobGasPrice)
	}
	if d.BlockHash != nil {
		r.BlockHash = *d.BlockHash
	}
	if d.BlockNumber != nil {
		r.BlockNumber = (*big.Int)(d.BlockNumber)
	}
	if d.TransactionIndex != nil {
		r.TransactionIndex = uint(*d.TransactionIndex)
	}
	return &r, nil
}

func (d *rpcLog) log() (*types.Log, error) {
	var l types.Log
	if d.Address == nil {
		return nil, errors.New("missing required field 'address' for Log")
	}
	l.Address = *d.Address
	if d.Topics == nil {
		return nil, errors.New("missing required field 'topics' for Log")
	}
	l.Topics = d.Topics
	if d.Data == nil {
		return nil, errors.New("missing required field 'data' for Log")
	}
	l.Data = *d.Data
	if d.BlockNumber != nil {
		l.BlockNumber = uint64(*d.BlockNumber)
	}
	if d.TxHash == nil {
		return nil, errors.New("missing required field 'transactionHash' for Log")
	}
	l.TxHash = *d.TxHash
	if d.TxIndex != nil {
		l.TxIndex = uint(*d.TxIndex)
	}
	if d.BlockHash != nil {
		l.BlockHash = *d.BlockHash
	}
	if d.BlockTimestamp != nil {
		l.BlockTimestamp = uint64(*d.BlockTimestamp)
	}
	if d.Index != nil {
		l.Index = uint(*d.Index)
	}
	if d.Removed != nil {
		l.Removed = *d.Removed
	}
	return &l, nil
}

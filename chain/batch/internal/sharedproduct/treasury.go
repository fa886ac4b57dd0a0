// Code generated via abigen V2 - DO NOT EDIT.
// This file is a generated binding and any manual changes will be lost.

package sharedproduct

import (
	"bytes"
	"errors"
	"math/big"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// Reference imports to suppress errors if they are not otherwise used.
var (
	_ = bytes.Equal
	_ = errors.New
	_ = big.NewInt
	_ = common.Big1
	_ = types.BloomLookup
	_ = abi.ConvertType
)

// TreasuryMetaData contains all meta data concerning the Treasury contract.
var TreasuryMetaData = bind.MetaData{
	ABI: "[{\"inputs\":[{\"internalType\":\"address\",\"name\":\"product_\",\"type\":\"address\"},{\"internalType\":\"contractPremiumToken\",\"name\":\"token_\",\"type\":\"address\"},{\"internalType\":\"address\",\"name\":\"instanceWallet_\",\"type\":\"address\"},{\"internalType\":\"address\",\"name\":\"riskpoolWallet_\",\"type\":\"address\"}],\"stateMutability\":\"nonpayable\",\"type\":\"constructor\"},{\"inputs\":[],\"name\":\"FEE_PERCENT\",\"outputs\":[{\"internalType\":\"uint256\",\"name\":\"\",\"type\":\"uint256\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"instanceWallet\",\"outputs\":[{\"internalType\":\"address\",\"name\":\"\",\"type\":\"address\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"premiumCollected\",\"outputs\":[{\"internalType\":\"uint256\",\"name\":\"\",\"type\":\"uint256\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"\",\"type\":\"bytes32\"}],\"name\":\"premiumOf\",\"outputs\":[{\"internalType\":\"uint256\",\"name\":\"\",\"type\":\"uint256\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"processId\",\"type\":\"bytes32\"},{\"internalType\":\"address\",\"name\":\"holder\",\"type\":\"address\"},{\"internalType\":\"uint256\",\"name\":\"premium\",\"type\":\"uint256\"}],\"name\":\"processPremium\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"product\",\"outputs\":[{\"internalType\":\"address\",\"name\":\"\",\"type\":\"address\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"riskpoolWallet\",\"outputs\":[{\"internalType\":\"address\",\"name\":\"\",\"type\":\"address\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"token\",\"outputs\":[{\"internalType\":\"contractPremiumToken\",\"name\":\"\",\"type\":\"address\"}],\"stateMutability\":\"view\",\"type\":\"function\"}]",
	ID:  "Treasury",
}

// Treasury is an auto generated Go binding around an Ethereum contract.
type Treasury struct {
	abi abi.ABI
}

// GetABI returns the ABI associated with this contract binding.
func (c *Treasury) GetABI() abi.ABI {
	return c.abi
}

// NewTreasury creates a new instance of Treasury.
func NewTreasury() *Treasury {
	parsed, err := TreasuryMetaData.ParseABI()
	if err != nil {
		panic(errors.New("invalid ABI: " + err.Error()))
	}
	return &Treasury{abi: *parsed}
}

// Instance creates a wrapper for a deployed contract instance at the given address.
// Use this to create the instance object passed to abigen v2 library functions Call, Transact, etc.
func (c *Treasury) Instance(backend bind.ContractBackend, addr common.Address) *bind.BoundContract {
	return bind.NewBoundContract(addr, c.abi, backend, backend, backend)
}

// PackConstructor is the Go binding used to pack the parameters required for
// contract deployment.
//
// Solidity: constructor(address product_, address token_, address instanceWallet_, address riskpoolWallet_) returns()
func (treasury *Treasury) PackConstructor(product_ common.Address, token_ common.Address, instanceWallet_ common.Address, riskpoolWallet_ common.Address) []byte {
	enc, err := treasury.abi.Pack("", product_, token_, instanceWallet_, riskpoolWallet_)
	if err != nil {
		panic(err)
	}
	return enc
}

// PackFEEPERCENT is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xeaf98d23.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function FEE_PERCENT() view returns(uint256)
func (treasury *Treasury) PackFEEPERCENT() []byte {
	enc, err := treasury.abi.Pack("FEE_PERCENT")
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackFEEPERCENT is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xeaf98d23.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function FEE_PERCENT() view returns(uint256)
func (treasury *Treasury) TryPackFEEPERCENT() ([]byte, error) {
	return treasury.abi.Pack("FEE_PERCENT")
}

// UnpackFEEPERCENT is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0xeaf98d23.
//
// Solidity: function FEE_PERCENT() view returns(uint256)
func (treasury *Treasury) UnpackFEEPERCENT(data []byte) (*big.Int, error) {
	out, err := treasury.abi.Unpack("FEE_PERCENT", data)
	if err != nil {
		return new(big.Int), err
	}
	out0 := abi.ConvertType(out[0], new(big.Int)).(*big.Int)
	return out0, nil
}

// PackInstanceWallet is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xe388cb60.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function instanceWallet() view returns(address)
func (treasury *Treasury) PackInstanceWallet() []byte {
	enc, err := treasury.abi.Pack("instanceWallet")
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackInstanceWallet is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xe388cb60.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function instanceWallet() view returns(address)
func (treasury *Treasury) TryPackInstanceWallet() ([]byte, error) {
	return treasury.abi.Pack("instanceWallet")
}

// UnpackInstanceWallet is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0xe388cb60.
//
// Solidity: function instanceWallet() view returns(address)
func (treasury *Treasury) UnpackInstanceWallet(data []byte) (common.Address, error) {
	out, err := treasury.abi.Unpack("instanceWallet", data)
	if err != nil {
		return *new(common.Address), err
	}
	out0 := *abi.ConvertType(out[0], new(common.Address)).(*common.Address)
	return out0, nil
}

// PackPremiumCollected is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x23cb6c74.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function premiumCollected() view returns(uint256)
func (treasury *Treasury) PackPremiumCollected() []byte {
	enc, err := treasury.abi.Pack("premiumCollected")
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackPremiumCollected is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x23cb6c74.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function premiumCollected() view returns(uint256)
func (treasury *Treasury) TryPackPremiumCollected() ([]byte, error) {
	return treasury.abi.Pack("premiumCollected")
}

// UnpackPremiumCollected is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x23cb6c74.
//
// Solidity: function premiumCollected() view returns(uint256)
func (treasury *Treasury) UnpackPremiumCollected(data []byte) (*big.Int, error) {
	out, err := treasury.abi.Unpack("premiumCollected", data)
	if err != nil {
		return new(big.Int), err
	}
	out0 := abi.ConvertType(out[0], new(big.Int)).(*big.Int)
	return out0, nil
}

// PackPremiumOf is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x038be070.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function premiumOf(bytes32 ) view returns(uint256)
func (treasury *Treasury) PackPremiumOf(arg0 [32]byte) []byte {
	enc, err := treasury.abi.Pack("premiumOf", arg0)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackPremiumOf is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x038be070.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function premiumOf(bytes32 ) view returns(uint256)
func (treasury *Treasury) TryPackPremiumOf(arg0 [32]byte) ([]byte, error) {
	return treasury.abi.Pack("premiumOf", arg0)
}

// UnpackPremiumOf is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x038be070.
//
// Solidity: function premiumOf(bytes32 ) view returns(uint256)
func (treasury *Treasury) UnpackPremiumOf(data []byte) (*big.Int, error) {
	out, err := treasury.abi.Unpack("premiumOf", data)
	if err != nil {
		return new(big.Int), err
	}
	out0 := abi.ConvertType(out[0], new(big.Int)).(*big.Int)
	return out0, nil
}

// PackProcessPremium is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xc2f0c493.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function processPremium(bytes32 processId, address holder, uint256 premium) returns()
func (treasury *Treasury) PackProcessPremium(processId [32]byte, holder common.Address, premium *big.Int) []byte {
	enc, err := treasury.abi.Pack("processPremium", processId, holder, premium)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackProcessPremium is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xc2f0c493.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function processPremium(bytes32 processId, address holder, uint256 premium) returns()
func (treasury *Treasury) TryPackProcessPremium(processId [32]byte, holder common.Address, premium *big.Int) ([]byte, error) {
	return treasury.abi.Pack("processPremium", processId, holder, premium)
}

// PackProduct is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xbf9ce952.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function product() view returns(address)
func (treasury *Treasury) PackProduct() []byte {
	enc, err := treasury.abi.Pack("product")
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackProduct is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xbf9ce952.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function product() view returns(address)
func (treasury *Treasury) TryPackProduct() ([]byte, error) {
	return treasury.abi.Pack("product")
}

// UnpackProduct is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0xbf9ce952.
//
// Solidity: function product() view returns(address)
func (treasury *Treasury) UnpackProduct(data []byte) (common.Address, error) {
	out, err := treasury.abi.Unpack("product", data)
	if err != nil {
		return *new(common.Address), err
	}
	out0 := *abi.ConvertType(out[0], new(common.Address)).(*common.Address)
	return out0, nil
}

// PackRiskpoolWallet is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xbccc3025.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function riskpoolWallet() view returns(address)
func (treasury *Treasury) PackRiskpoolWallet() []byte {
	enc, err := treasury.abi.Pack("riskpoolWallet")
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackRiskpoolWallet is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xbccc3025.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function riskpoolWallet() view returns(address)
func (treasury *Treasury) TryPackRiskpoolWallet() ([]byte, error) {
	return treasury.abi.Pack("riskpoolWallet")
}

// UnpackRiskpoolWallet is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0xbccc3025.
//
// Solidity: function riskpoolWallet() view returns(address)
func (treasury *Treasury) UnpackRiskpoolWallet(data []byte) (common.Address, error) {
	out, err := treasury.abi.Unpack("riskpoolWallet", data)
	if err != nil {
		return *new(common.Address), err
	}
	out0 := *abi.ConvertType(out[0], new(common.Address)).(*common.Address)
	return out0, nil
}

// PackToken is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xfc0c546a.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function token() view returns(address)
func (treasury *Treasury) PackToken() []byte {
	enc, err := treasury.abi.Pack("token")
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackToken is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xfc0c546a.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function token() view returns(address)
func (treasury *Treasury) TryPackToken() ([]byte, error) {
	return treasury.abi.Pack("token")
}

// UnpackToken is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0xfc0c546a.
//
// Solidity: function token() view returns(address)
func (treasury *Treasury) UnpackToken(data []byte) (common.Address, error) {
	out, err := treasury.abi.Unpack("token", data)
	if err != nil {
		return *new(common.Address), err
	}
	out0 := *abi.ConvertType(out[0], new(common.Address)).(*common.Address)
	return out0, nil
}

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

// RiskpoolMetaData contains all meta data concerning the Riskpool contract.
var RiskpoolMetaData = bind.MetaData{
	ABI: "[{\"inputs\":[{\"internalType\":\"address\",\"name\":\"product_\",\"type\":\"address\"},{\"internalType\":\"uint256\",\"name\":\"riskpoolId_\",\"type\":\"uint256\"}],\"stateMutability\":\"nonpayable\",\"type\":\"constructor\"},{\"inputs\":[],\"name\":\"activePolicies\",\"outputs\":[{\"internalType\":\"uint256\",\"name\":\"\",\"type\":\"uint256\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"uint256\",\"name\":\"\",\"type\":\"uint256\"}],\"name\":\"bundles\",\"outputs\":[{\"internalType\":\"uint256\",\"name\":\"capital\",\"type\":\"uint256\"},{\"internalType\":\"uint256\",\"name\":\"lockedCapital\",\"type\":\"uint256\"},{\"internalType\":\"uint256\",\"name\":\"policies\",\"type\":\"uint256\"},{\"internalType\":\"uint256\",\"name\":\"updatedAt\",\"type\":\"uint256\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"uint256\",\"name\":\"bundleId\",\"type\":\"uint256\"}],\"name\":\"capacity\",\"outputs\":[{\"internalType\":\"uint256\",\"name\":\"\",\"type\":\"uint256\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"uint256\",\"name\":\"bundleId\",\"type\":\"uint256\"},{\"internalType\":\"bytes32\",\"name\":\"processId\",\"type\":\"bytes32\"},{\"internalType\":\"uint256\",\"name\":\"amount\",\"type\":\"uint256\"}],\"name\":\"collateralize\",\"outputs\":[{\"internalType\":\"bool\",\"name\":\"\",\"type\":\"bool\"}],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"uint256\",\"name\":\"bundleId\",\"type\":\"uint256\"},{\"internalType\":\"uint256\",\"name\":\"amount\",\"type\":\"uint256\"}],\"name\":\"fundBundle\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"\",\"type\":\"bytes32\"}],\"name\":\"lockedPerPolicy\",\"outputs\":[{\"internalType\":\"uint256\",\"name\":\"\",\"type\":\"uint256\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"product\",\"outputs\":[{\"internalType\":\"address\",\"name\":\"\",\"type\":\"address\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"riskpoolId\",\"outputs\":[{\"internalType\":\"uint256\",\"name\":\"\",\"type\":\"uint256\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"totalLockedCapital\",\"outputs\":[{\"internalType\":\"uint256\",\"name\":\"\",\"type\":\"uint256\"}],\"stateMutability\":\"view\",\"type\":\"function\"}]",
	ID:  "Riskpool",
}

// Riskpool is an auto generated Go binding around an Ethereum contract.
type Riskpool struct {
	abi abi.ABI
}

// GetABI returns the ABI associated with this contract binding.
func (c *Riskpool) GetABI() abi.ABI {
	return c.abi
}

// NewRiskpool creates a new instance of Riskpool.
func NewRiskpool() *Riskpool {
	parsed, err := RiskpoolMetaData.ParseABI()
	if err != nil {
		panic(errors.New("invalid ABI: " + err.Error()))
	}
	return &Riskpool{abi: *parsed}
}

// Instance creates a wrapper for a deployed contract instance at the given address.
// Use this to create the instance object passed to abigen v2 library functions Call, Transact, etc.
func (c *Riskpool) Instance(backend bind.ContractBackend, addr common.Address) *bind.BoundContract {
	return bind.NewBoundContract(addr, c.abi, backend, backend, backend)
}

// PackConstructor is the Go binding used to pack the parameters required for
// contract deployment.
//
// Solidity: constructor(address product_, uint256 riskpoolId_) returns()
func (riskpool *Riskpool) PackConstructor(product_ common.Address, riskpoolId_ *big.Int) []byte {
	enc, err := riskpool.abi.Pack("", product_, riskpoolId_)
	if err != nil {
		panic(err)
	}
	return enc
}

// PackActivePolicies is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x0a8377cf.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function activePolicies() view returns(uint256)
func (riskpool *Riskpool) PackActivePolicies() []byte {
	enc, err := riskpool.abi.Pack("activePolicies")
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackActivePolicies is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x0a8377cf.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function activePolicies() view returns(uint256)
func (riskpool *Riskpool) TryPackActivePolicies() ([]byte, error) {
	return riskpool.abi.Pack("activePolicies")
}

// UnpackActivePolicies is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x0a8377cf.
//
// Solidity: function activePolicies() view returns(uint256)
func (riskpool *Riskpool) UnpackActivePolicies(data []byte) (*big.Int, error) {
	out, err := riskpool.abi.Unpack("activePolicies", data)
	if err != nil {
		return new(big.Int), err
	}
	out0 := abi.ConvertType(out[0], new(big.Int)).(*big.Int)
	return out0, nil
}

// PackBundles is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xcf19384b.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function bundles(uint256 ) view returns(uint256 capital, uint256 lockedCapital, uint256 policies, uint256 updatedAt)
func (riskpool *Riskpool) PackBundles(arg0 *big.Int) []byte {
	enc, err := riskpool.abi.Pack("bundles", arg0)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackBundles is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xcf19384b.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function bundles(uint256 ) view returns(uint256 capital, uint256 lockedCapital, uint256 policies, uint256 updatedAt)
func (riskpool *Riskpool) TryPackBundles(arg0 *big.Int) ([]byte, error) {
	return riskpool.abi.Pack("bundles", arg0)
}

// BundlesOutput serves as a container for the return parameters of contract
// method Bundles.
type BundlesOutput struct {
	Capital       *big.Int
	LockedCapital *big.Int
	Policies      *big.Int
	UpdatedAt     *big.Int
}

// UnpackBundles is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0xcf19384b.
//
// Solidity: function bundles(uint256 ) view returns(uint256 capital, uint256 lockedCapital, uint256 policies, uint256 updatedAt)
func (riskpool *Riskpool) UnpackBundles(data []byte) (BundlesOutput, error) {
	out, err := riskpool.abi.Unpack("bundles", data)
	outstruct := new(BundlesOutput)
	if err != nil {
		return *outstruct, err
	}
	outstruct.Capital = abi.ConvertType(out[0], new(big.Int)).(*big.Int)
	outstruct.LockedCapital = abi.ConvertType(out[1], new(big.Int)).(*big.Int)
	outstruct.Policies = abi.ConvertType(out[2], new(big.Int)).(*big.Int)
	outstruct.UpdatedAt = abi.ConvertType(out[3], new(big.Int)).(*big.Int)
	return *outstruct, nil
}

// PackCapacity is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xab1bbeca.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function capacity(uint256 bundleId) view returns(uint256)
func (riskpool *Riskpool) PackCapacity(bundleId *big.Int) []byte {
	enc, err := riskpool.abi.Pack("capacity", bundleId)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackCapacity is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xab1bbeca.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function capacity(uint256 bundleId) view returns(uint256)
func (riskpool *Riskpool) TryPackCapacity(bundleId *big.Int) ([]byte, error) {
	return riskpool.abi.Pack("capacity", bundleId)
}

// UnpackCapacity is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0xab1bbeca.
//
// Solidity: function capacity(uint256 bundleId) view returns(uint256)
func (riskpool *Riskpool) UnpackCapacity(data []byte) (*big.Int, error) {
	out, err := riskpool.abi.Unpack("capacity", data)
	if err != nil {
		return new(big.Int), err
	}
	out0 := abi.ConvertType(out[0], new(big.Int)).(*big.Int)
	return out0, nil
}

// PackCollateralize is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xbb09bc5e.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function collateralize(uint256 bundleId, bytes32 processId, uint256 amount) returns(bool)
func (riskpool *Riskpool) PackCollateralize(bundleId *big.Int, processId [32]byte, amount *big.Int) []byte {
	enc, err := riskpool.abi.Pack("collateralize", bundleId, processId, amount)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackCollateralize is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xbb09bc5e.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function collateralize(uint256 bundleId, bytes32 processId, uint256 amount) returns(bool)
func (riskpool *Riskpool) TryPackCollateralize(bundleId *big.Int, processId [32]byte, amount *big.Int) ([]byte, error) {
	return riskpool.abi.Pack("collateralize", bundleId, processId, amount)
}

// UnpackCollateralize is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0xbb09bc5e.
//
// Solidity: function collateralize(uint256 bundleId, bytes32 processId, uint256 amount) returns(bool)
func (riskpool *Riskpool) UnpackCollateralize(data []byte) (bool, error) {
	out, err := riskpool.abi.Unpack("collateralize", data)
	if err != nil {
		return *new(bool), err
	}
	out0 := *abi.ConvertType(out[0], new(bool)).(*bool)
	return out0, nil
}

// PackFundBundle is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x89002da5.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function fundBundle(uint256 bundleId, uint256 amount) returns()
func (riskpool *Riskpool) PackFundBundle(bundleId *big.Int, amount *big.Int) []byte {
	enc, err := riskpool.abi.Pack("fundBundle", bundleId, amount)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackFundBundle is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x89002da5.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function fundBundle(uint256 bundleId, uint256 amount) returns()
func (riskpool *Riskpool) TryPackFundBundle(bundleId *big.Int, amount *big.Int) ([]byte, error) {
	return riskpool.abi.Pack("fundBundle", bundleId, amount)
}

// PackLockedPerPolicy is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xdbd32754.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function lockedPerPolicy(bytes32 ) view returns(uint256)
func (riskpool *Riskpool) PackLockedPerPolicy(arg0 [32]byte) []byte {
	enc, err := riskpool.abi.Pack("lockedPerPolicy", arg0)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackLockedPerPolicy is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xdbd32754.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function lockedPerPolicy(bytes32 ) view returns(uint256)
func (riskpool *Riskpool) TryPackLockedPerPolicy(arg0 [32]byte) ([]byte, error) {
	return riskpool.abi.Pack("lockedPerPolicy", arg0)
}

// UnpackLockedPerPolicy is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0xdbd32754.
//
// Solidity: function lockedPerPolicy(bytes32 ) view returns(uint256)
func (riskpool *Riskpool) UnpackLockedPerPolicy(data []byte) (*big.Int, error) {
	out, err := riskpool.abi.Unpack("lockedPerPolicy", data)
	if err != nil {
		return new(big.Int), err
	}
	out0 := abi.ConvertType(out[0], new(big.Int)).(*big.Int)
	return out0, nil
}

// PackProduct is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xbf9ce952.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function product() view returns(address)
func (riskpool *Riskpool) PackProduct() []byte {
	enc, err := riskpool.abi.Pack("product")
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
func (riskpool *Riskpool) TryPackProduct() ([]byte, error) {
	return riskpool.abi.Pack("product")
}

// UnpackProduct is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0xbf9ce952.
//
// Solidity: function product() view returns(address)
func (riskpool *Riskpool) UnpackProduct(data []byte) (common.Address, error) {
	out, err := riskpool.abi.Unpack("product", data)
	if err != nil {
		return *new(common.Address), err
	}
	out0 := *abi.ConvertType(out[0], new(common.Address)).(*common.Address)
	return out0, nil
}

// PackRiskpoolId is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x6367f69d.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function riskpoolId() view returns(uint256)
func (riskpool *Riskpool) PackRiskpoolId() []byte {
	enc, err := riskpool.abi.Pack("riskpoolId")
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackRiskpoolId is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x6367f69d.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function riskpoolId() view returns(uint256)
func (riskpool *Riskpool) TryPackRiskpoolId() ([]byte, error) {
	return riskpool.abi.Pack("riskpoolId")
}

// UnpackRiskpoolId is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x6367f69d.
//
// Solidity: function riskpoolId() view returns(uint256)
func (riskpool *Riskpool) UnpackRiskpoolId(data []byte) (*big.Int, error) {
	out, err := riskpool.abi.Unpack("riskpoolId", data)
	if err != nil {
		return new(big.Int), err
	}
	out0 := abi.ConvertType(out[0], new(big.Int)).(*big.Int)
	return out0, nil
}

// PackTotalLockedCapital is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x57bc924f.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function totalLockedCapital() view returns(uint256)
func (riskpool *Riskpool) PackTotalLockedCapital() []byte {
	enc, err := riskpool.abi.Pack("totalLockedCapital")
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackTotalLockedCapital is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x57bc924f.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function totalLockedCapital() view returns(uint256)
func (riskpool *Riskpool) TryPackTotalLockedCapital() ([]byte, error) {
	return riskpool.abi.Pack("totalLockedCapital")
}

// UnpackTotalLockedCapital is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x57bc924f.
//
// Solidity: function totalLockedCapital() view returns(uint256)
func (riskpool *Riskpool) UnpackTotalLockedCapital(data []byte) (*big.Int, error) {
	out, err := riskpool.abi.Unpack("totalLockedCapital", data)
	if err != nil {
		return new(big.Int), err
	}
	out0 := abi.ConvertType(out[0], new(big.Int)).(*big.Int)
	return out0, nil
}

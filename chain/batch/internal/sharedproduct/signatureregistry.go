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

// SignatureRegistryMetaData contains all meta data concerning the SignatureRegistry contract.
var SignatureRegistryMetaData = bind.MetaData{
	ABI: "[{\"inputs\":[{\"internalType\":\"address\",\"name\":\"policyHolder\",\"type\":\"address\"},{\"internalType\":\"address\",\"name\":\"protectedWallet\",\"type\":\"address\"},{\"internalType\":\"uint256\",\"name\":\"protectedBalance\",\"type\":\"uint256\"},{\"internalType\":\"uint256\",\"name\":\"duration\",\"type\":\"uint256\"},{\"internalType\":\"uint256\",\"name\":\"bundleId\",\"type\":\"uint256\"},{\"internalType\":\"bytes32\",\"name\":\"signatureId\",\"type\":\"bytes32\"},{\"internalType\":\"bytes\",\"name\":\"signature\",\"type\":\"bytes\"}],\"name\":\"checkAndRegisterSignature\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"domainSeparator\",\"outputs\":[{\"internalType\":\"bytes32\",\"name\":\"\",\"type\":\"bytes32\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"\",\"type\":\"bytes32\"}],\"name\":\"signatureIsUsed\",\"outputs\":[{\"internalType\":\"bool\",\"name\":\"\",\"type\":\"bool\"}],\"stateMutability\":\"view\",\"type\":\"function\"}]",
	ID:  "SignatureRegistry",
}

// SignatureRegistry is an auto generated Go binding around an Ethereum contract.
type SignatureRegistry struct {
	abi abi.ABI
}

// GetABI returns the ABI associated with this contract binding.
func (c *SignatureRegistry) GetABI() abi.ABI {
	return c.abi
}

// NewSignatureRegistry creates a new instance of SignatureRegistry.
func NewSignatureRegistry() *SignatureRegistry {
	parsed, err := SignatureRegistryMetaData.ParseABI()
	if err != nil {
		panic(errors.New("invalid ABI: " + err.Error()))
	}
	return &SignatureRegistry{abi: *parsed}
}

// Instance creates a wrapper for a deployed contract instance at the given address.
// Use this to create the instance object passed to abigen v2 library functions Call, Transact, etc.
func (c *SignatureRegistry) Instance(backend bind.ContractBackend, addr common.Address) *bind.BoundContract {
	return bind.NewBoundContract(addr, c.abi, backend, backend, backend)
}

// PackCheckAndRegisterSignature is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x12435abc.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function checkAndRegisterSignature(address policyHolder, address protectedWallet, uint256 protectedBalance, uint256 duration, uint256 bundleId, bytes32 signatureId, bytes signature) returns()
func (signatureRegistry *SignatureRegistry) PackCheckAndRegisterSignature(policyHolder common.Address, protectedWallet common.Address, protectedBalance *big.Int, duration *big.Int, bundleId *big.Int, signatureId [32]byte, signature []byte) []byte {
	enc, err := signatureRegistry.abi.Pack("checkAndRegisterSignature", policyHolder, protectedWallet, protectedBalance, duration, bundleId, signatureId, signature)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackCheckAndRegisterSignature is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x12435abc.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function checkAndRegisterSignature(address policyHolder, address protectedWallet, uint256 protectedBalance, uint256 duration, uint256 bundleId, bytes32 signatureId, bytes signature) returns()
func (signatureRegistry *SignatureRegistry) TryPackCheckAndRegisterSignature(policyHolder common.Address, protectedWallet common.Address, protectedBalance *big.Int, duration *big.Int, bundleId *big.Int, signatureId [32]byte, signature []byte) ([]byte, error) {
	return signatureRegistry.abi.Pack("checkAndRegisterSignature", policyHolder, protectedWallet, protectedBalance, duration, bundleId, signatureId, signature)
}

// PackDomainSeparator is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xf698da25.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function domainSeparator() view returns(bytes32)
func (signatureRegistry *SignatureRegistry) PackDomainSeparator() []byte {
	enc, err := signatureRegistry.abi.Pack("domainSeparator")
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackDomainSeparator is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xf698da25.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function domainSeparator() view returns(bytes32)
func (signatureRegistry *SignatureRegistry) TryPackDomainSeparator() ([]byte, error) {
	return signatureRegistry.abi.Pack("domainSeparator")
}

// UnpackDomainSeparator is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0xf698da25.
//
// Solidity: function domainSeparator() view returns(bytes32)
func (signatureRegistry *SignatureRegistry) UnpackDomainSeparator(data []byte) ([32]byte, error) {
	out, err := signatureRegistry.abi.Unpack("domainSeparator", data)
	if err != nil {
		return *new([32]byte), err
	}
	out0 := *abi.ConvertType(out[0], new([32]byte)).(*[32]byte)
	return out0, nil
}

// PackSignatureIsUsed is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xa954acd4.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function signatureIsUsed(bytes32 ) view returns(bool)
func (signatureRegistry *SignatureRegistry) PackSignatureIsUsed(arg0 [32]byte) []byte {
	enc, err := signatureRegistry.abi.Pack("signatureIsUsed", arg0)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackSignatureIsUsed is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xa954acd4.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function signatureIsUsed(bytes32 ) view returns(bool)
func (signatureRegistry *SignatureRegistry) TryPackSignatureIsUsed(arg0 [32]byte) ([]byte, error) {
	return signatureRegistry.abi.Pack("signatureIsUsed", arg0)
}

// UnpackSignatureIsUsed is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0xa954acd4.
//
// Solidity: function signatureIsUsed(bytes32 ) view returns(bool)
func (signatureRegistry *SignatureRegistry) UnpackSignatureIsUsed(data []byte) (bool, error) {
	out, err := signatureRegistry.abi.Unpack("signatureIsUsed", data)
	if err != nil {
		return *new(bool), err
	}
	out0 := *abi.ConvertType(out[0], new(bool)).(*bool)
	return out0, nil
}

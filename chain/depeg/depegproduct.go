// Code generated via abigen V2 - DO NOT EDIT.
// This file is a generated binding and any manual changes will be lost.

package depeg

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

// DepegProductMetaData contains all meta data concerning the DepegProduct contract.
var DepegProductMetaData = bind.MetaData{
	ABI: "[{\"type\":\"function\",\"name\":\"applyForPolicyWithBundleAndSignature\",\"stateMutability\":\"nonpayable\",\"inputs\":[{\"name\":\"policyHolder\",\"type\":\"address\"},{\"name\":\"protectedWallet\",\"type\":\"address\"},{\"name\":\"protectedBalance\",\"type\":\"uint256\"},{\"name\":\"duration\",\"type\":\"uint256\"},{\"name\":\"bundleId\",\"type\":\"uint256\"},{\"name\":\"signatureId\",\"type\":\"bytes32\"},{\"name\":\"signature\",\"type\":\"bytes\"}],\"outputs\":[{\"name\":\"processId\",\"type\":\"bytes32\"}]},{\"type\":\"function\",\"name\":\"getMessageHelperAddress\",\"stateMutability\":\"view\",\"inputs\":[],\"outputs\":[{\"name\":\"\",\"type\":\"address\"}]},{\"type\":\"event\",\"name\":\"LogDepegApplicationCreated\",\"anonymous\":false,\"inputs\":[{\"name\":\"processId\",\"type\":\"bytes32\",\"indexed\":false},{\"name\":\"policyHolder\",\"type\":\"address\",\"indexed\":false},{\"name\":\"protectedWallet\",\"type\":\"address\",\"indexed\":false},{\"name\":\"protectedBalance\",\"type\":\"uint256\",\"indexed\":false},{\"name\":\"sumInsuredAmount\",\"type\":\"uint256\",\"indexed\":false},{\"name\":\"premiumAmount\",\"type\":\"uint256\",\"indexed\":false}]}]",
	ID:  "DepegProduct",
}

// DepegProduct is an auto generated Go binding around an Ethereum contract.
type DepegProduct struct {
	abi abi.ABI
}

// GetABI returns the ABI associated with this contract binding.
func (c *DepegProduct) GetABI() abi.ABI {
	return c.abi
}

// NewDepegProduct creates a new instance of DepegProduct.
func NewDepegProduct() *DepegProduct {
	parsed, err := DepegProductMetaData.ParseABI()
	if err != nil {
		panic(errors.New("invalid ABI: " + err.Error()))
	}
	return &DepegProduct{abi: *parsed}
}

// Instance creates a wrapper for a deployed contract instance at the given address.
// Use this to create the instance object passed to abigen v2 library functions Call, Transact, etc.
func (c *DepegProduct) Instance(backend bind.ContractBackend, addr common.Address) *bind.BoundContract {
	return bind.NewBoundContract(addr, c.abi, backend, backend, backend)
}

// PackApplyForPolicyWithBundleAndSignature is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x6d5940a9.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function applyForPolicyWithBundleAndSignature(address policyHolder, address protectedWallet, uint256 protectedBalance, uint256 duration, uint256 bundleId, bytes32 signatureId, bytes signature) returns(bytes32 processId)
func (depegProduct *DepegProduct) PackApplyForPolicyWithBundleAndSignature(policyHolder common.Address, protectedWallet common.Address, protectedBalance *big.Int, duration *big.Int, bundleId *big.Int, signatureId [32]byte, signature []byte) []byte {
	enc, err := depegProduct.abi.Pack("applyForPolicyWithBundleAndSignature", policyHolder, protectedWallet, protectedBalance, duration, bundleId, signatureId, signature)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackApplyForPolicyWithBundleAndSignature is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x6d5940a9.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function applyForPolicyWithBundleAndSignature(address policyHolder, address protectedWallet, uint256 protectedBalance, uint256 duration, uint256 bundleId, bytes32 signatureId, bytes signature) returns(bytes32 processId)
func (depegProduct *DepegProduct) TryPackApplyForPolicyWithBundleAndSignature(policyHolder common.Address, protectedWallet common.Address, protectedBalance *big.Int, duration *big.Int, bundleId *big.Int, signatureId [32]byte, signature []byte) ([]byte, error) {
	return depegProduct.abi.Pack("applyForPolicyWithBundleAndSignature", policyHolder, protectedWallet, protectedBalance, duration, bundleId, signatureId, signature)
}

// UnpackApplyForPolicyWithBundleAndSignature is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x6d5940a9.
//
// Solidity: function applyForPolicyWithBundleAndSignature(address policyHolder, address protectedWallet, uint256 protectedBalance, uint256 duration, uint256 bundleId, bytes32 signatureId, bytes signature) returns(bytes32 processId)
func (depegProduct *DepegProduct) UnpackApplyForPolicyWithBundleAndSignature(data []byte) ([32]byte, error) {
	out, err := depegProduct.abi.Unpack("applyForPolicyWithBundleAndSignature", data)
	if err != nil {
		return *new([32]byte), err
	}
	out0 := *abi.ConvertType(out[0], new([32]byte)).(*[32]byte)
	return out0, nil
}

// PackGetMessageHelperAddress is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xcb3bbeb4.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function getMessageHelperAddress() view returns(address)
func (depegProduct *DepegProduct) PackGetMessageHelperAddress() []byte {
	enc, err := depegProduct.abi.Pack("getMessageHelperAddress")
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackGetMessageHelperAddress is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xcb3bbeb4.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function getMessageHelperAddress() view returns(address)
func (depegProduct *DepegProduct) TryPackGetMessageHelperAddress() ([]byte, error) {
	return depegProduct.abi.Pack("getMessageHelperAddress")
}

// UnpackGetMessageHelperAddress is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0xcb3bbeb4.
//
// Solidity: function getMessageHelperAddress() view returns(address)
func (depegProduct *DepegProduct) UnpackGetMessageHelperAddress(data []byte) (common.Address, error) {
	out, err := depegProduct.abi.Unpack("getMessageHelperAddress", data)
	if err != nil {
		return *new(common.Address), err
	}
	out0 := *abi.ConvertType(out[0], new(common.Address)).(*common.Address)
	return out0, nil
}

// DepegProductLogDepegApplicationCreated represents a LogDepegApplicationCreated event raised by the DepegProduct contract.
type DepegProductLogDepegApplicationCreated struct {
	ProcessId        [32]byte
	PolicyHolder     common.Address
	ProtectedWallet  common.Address
	ProtectedBalance *big.Int
	SumInsuredAmount *big.Int
	PremiumAmount    *big.Int
	Raw              *types.Log // Blockchain specific contextual infos
}

const DepegProductLogDepegApplicationCreatedEventName = "LogDepegApplicationCreated"

// ContractEventName returns the user-defined event name.
func (DepegProductLogDepegApplicationCreated) ContractEventName() string {
	return DepegProductLogDepegApplicationCreatedEventName
}

// UnpackLogDepegApplicationCreatedEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event LogDepegApplicationCreated(bytes32 processId, address policyHolder, address protectedWallet, uint256 protectedBalance, uint256 sumInsuredAmount, uint256 premiumAmount)
func (depegProduct *DepegProduct) UnpackLogDepegApplicationCreatedEvent(log *types.Log) (*DepegProductLogDepegApplicationCreated, error) {
	event := "LogDepegApplicationCreated"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != depegProduct.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(DepegProductLogDepegApplicationCreated)
	if len(log.Data) > 0 {
		if err := depegProduct.abi.UnpackIntoInterface(out, event, log.Data); err != nil {
			return nil, err
		}
	}
	var indexed abi.Arguments
	for _, arg := range depegProduct.abi.Events[event].Inputs {
		if arg.Indexed {
			indexed = append(indexed, arg)
		}
	}
	if err := abi.ParseTopics(out, indexed, log.Topics[1:]); err != nil {
		return nil, err
	}
	out.Raw = log
	return out, nil
}

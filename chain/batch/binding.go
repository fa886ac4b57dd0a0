// Code generated via abigen V2 - DO NOT EDIT.
// This file is a generated binding and any manual changes will be lost.

package batch

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

// DepegApplicationBatchApplication is an auto generated low-level Go binding around an user-defined struct.
type DepegApplicationBatchApplication struct {
	PolicyHolder     common.Address
	ProtectedWallet  common.Address
	ProtectedBalance *big.Int
	Duration         *big.Int
	BundleId         *big.Int
	SignatureId      [32]byte
	Signature        []byte
	GasLimit         *big.Int
}

// DepegApplicationBatchMetaData contains all meta data concerning the DepegApplicationBatch contract.
var DepegApplicationBatchMetaData = bind.MetaData{
	ABI: "[{\"inputs\":[{\"internalType\":\"contractIDepegProduct\",\"name\":\"product_\",\"type\":\"address\"}],\"stateMutability\":\"nonpayable\",\"type\":\"constructor\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"bytes32\",\"name\":\"signatureHash\",\"type\":\"bytes32\"},{\"indexed\":false,\"internalType\":\"uint256\",\"name\":\"index\",\"type\":\"uint256\"},{\"indexed\":false,\"internalType\":\"bytes32\",\"name\":\"processId\",\"type\":\"bytes32\"}],\"name\":\"ApplicationApplied\",\"type\":\"event\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":true,\"internalType\":\"bytes32\",\"name\":\"signatureHash\",\"type\":\"bytes32\"},{\"indexed\":false,\"internalType\":\"uint256\",\"name\":\"index\",\"type\":\"uint256\"},{\"indexed\":false,\"internalType\":\"bytes\",\"name\":\"reason\",\"type\":\"bytes\"}],\"name\":\"ApplicationFailed\",\"type\":\"event\"},{\"inputs\":[],\"name\":\"RESERVE\",\"outputs\":[{\"internalType\":\"uint256\",\"name\":\"\",\"type\":\"uint256\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"components\":[{\"internalType\":\"address\",\"name\":\"policyHolder\",\"type\":\"address\"},{\"internalType\":\"address\",\"name\":\"protectedWallet\",\"type\":\"address\"},{\"internalType\":\"uint256\",\"name\":\"protectedBalance\",\"type\":\"uint256\"},{\"internalType\":\"uint256\",\"name\":\"duration\",\"type\":\"uint256\"},{\"internalType\":\"uint256\",\"name\":\"bundleId\",\"type\":\"uint256\"},{\"internalType\":\"bytes32\",\"name\":\"signatureId\",\"type\":\"bytes32\"},{\"internalType\":\"bytes\",\"name\":\"signature\",\"type\":\"bytes\"},{\"internalType\":\"uint256\",\"name\":\"gasLimit\",\"type\":\"uint256\"}],\"internalType\":\"structDepegApplicationBatch.Application[]\",\"name\":\"applications\",\"type\":\"tuple[]\"}],\"name\":\"applyBatch\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"product\",\"outputs\":[{\"internalType\":\"contractIDepegProduct\",\"name\":\"\",\"type\":\"address\"}],\"stateMutability\":\"view\",\"type\":\"function\"}]",
	ID:  "DepegApplicationBatch",
	Bin: "0x60a0604052348015600e575f80fd5b506040516105ee3803806105ee833981016040819052602b91603b565b6001600160a01b03166080526066565b5f60208284031215604a575f80fd5b81516001600160a01b0381168114605f575f80fd5b9392505050565b60805161056a6100845f395f818160790152610185015261056a5ff3fe608060405234801561000f575f80fd5b506004361061003f575f3560e01c80639d2cc43614610043578063b9c6f24a1461005f578063bf9ce95214610074575b5f80fd5b61004c61753081565b6040519081526020015b60405180910390f35b61007261006d36600461030a565b6100b3565b005b61009b7f000000000000000000000000000000000000000000000000000000000000000081565b6040516001600160a01b039091168152602001610056565b5f5b8181101561030557368383838181106100d0576100d061037b565b90506020028101906100e2919061038f565b90506175306100f6603f60e08401356103ad565b6101049060e08401356103cc565b61010e91906103cc565b5a10156101545760405162461bcd60e51b815260206004820152601060248201526f42415443483a4f55545f4f465f47415360801b604482015260640160405180910390fd5b5f61016260c08301836103f1565b60405161017092919061043b565b60405190819003902090506001600160a01b037f000000000000000000000000000000000000000000000000000000000000000016636d5940a960e08401356101bc602086018661044a565b6101cc604087016020880161044a565b60408701356060880135608089013560a08a01356101ed60c08c018c6103f1565b6040518a63ffffffff1660e01b8152600401610210989796959493929190610477565b6020604051808303815f8887f19350505050801561024b575060408051601f3d908101601f19168201909252610248918101906104e1565b60015b6102be573d808015610278576040519150601f19603f3d011682016040523d82523d5f602084013e61027d565b606091505b50817fd6f46d008dc3a2bbcf7664044157c0f72537598947a0fda0211e4f574357060085836040516102b09291906104f8565b60405180910390a2506102fb565b604080518581526020810183905283917f6b6e7ff813327ca8486c9031474d154cfad91ac9eae4d03a41f58b9bfcb37a00910160405180910390a2505b50506001016100b5565b505050565b5f806020838503121561031b575f80fd5b823567ffffffffffffffff811115610331575f80fd5b8301601f81018513610341575f80fd5b803567ffffffffffffffff811115610357575f80fd5b8560208260051b840101111561036b575f80fd5b6020919091019590945092505050565b634e487b7160e01b5f52603260045260245ffd5b5f823560fe198336030181126103a3575f80fd5b9190910192915050565b5f826103c757634e487b7160e01b5f52601260045260245ffd5b500490565b808201808211156103eb57634e487b7160e01b5f52601160045260245ffd5b92915050565b5f808335601e19843603018112610406575f80fd5b83018035915067ffffffffffffffff821115610420575f80fd5b602001915036819003821315610434575f80fd5b9250929050565b818382375f9101908152919050565b5f6020828403121561045a575f80fd5b81356001600160a01b0381168114610470575f80fd5b9392505050565b6001600160a01b0389811682528816602082015260408101879052606081018690526080810185905260a0810184905260e060c08201819052810182905281836101008301375f81830161010090810191909152601f909201601f19160101979650505050505050565b5f602082840312156104f1575f80fd5b5051919050565b828152604060208201525f82518060408401528060208501606085015e5f606082850101526060601f19601f830116840101915050939250505056fea2646970667358221220da2152618399ff6dae5079275b644235996e481051e9c71df87f2526ea8d464e64736f6c634300081a0033",
}

// DepegApplicationBatch is an auto generated Go binding around an Ethereum contract.
type DepegApplicationBatch struct {
	abi abi.ABI
}

// GetABI returns the ABI associated with this contract binding.
func (c *DepegApplicationBatch) GetABI() abi.ABI {
	return c.abi
}

// NewDepegApplicationBatch creates a new instance of DepegApplicationBatch.
func NewDepegApplicationBatch() *DepegApplicationBatch {
	parsed, err := DepegApplicationBatchMetaData.ParseABI()
	if err != nil {
		panic(errors.New("invalid ABI: " + err.Error()))
	}
	return &DepegApplicationBatch{abi: *parsed}
}

// Instance creates a wrapper for a deployed contract instance at the given address.
// Use this to create the instance object passed to abigen v2 library functions Call, Transact, etc.
func (c *DepegApplicationBatch) Instance(backend bind.ContractBackend, addr common.Address) *bind.BoundContract {
	return bind.NewBoundContract(addr, c.abi, backend, backend, backend)
}

// PackConstructor is the Go binding used to pack the parameters required for
// contract deployment.
//
// Solidity: constructor(address product_) returns()
func (depegApplicationBatch *DepegApplicationBatch) PackConstructor(product_ common.Address) []byte {
	enc, err := depegApplicationBatch.abi.Pack("", product_)
	if err != nil {
		panic(err)
	}
	return enc
}

// PackRESERVE is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x9d2cc436.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function RESERVE() view returns(uint256)
func (depegApplicationBatch *DepegApplicationBatch) PackRESERVE() []byte {
	enc, err := depegApplicationBatch.abi.Pack("RESERVE")
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackRESERVE is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x9d2cc436.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function RESERVE() view returns(uint256)
func (depegApplicationBatch *DepegApplicationBatch) TryPackRESERVE() ([]byte, error) {
	return depegApplicationBatch.abi.Pack("RESERVE")
}

// UnpackRESERVE is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x9d2cc436.
//
// Solidity: function RESERVE() view returns(uint256)
func (depegApplicationBatch *DepegApplicationBatch) UnpackRESERVE(data []byte) (*big.Int, error) {
	out, err := depegApplicationBatch.abi.Unpack("RESERVE", data)
	if err != nil {
		return new(big.Int), err
	}
	out0 := abi.ConvertType(out[0], new(big.Int)).(*big.Int)
	return out0, nil
}

// PackApplyBatch is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xb9c6f24a.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function applyBatch((address,address,uint256,uint256,uint256,bytes32,bytes,uint256)[] applications) returns()
func (depegApplicationBatch *DepegApplicationBatch) PackApplyBatch(applications []DepegApplicationBatchApplication) []byte {
	enc, err := depegApplicationBatch.abi.Pack("applyBatch", applications)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackApplyBatch is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xb9c6f24a.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function applyBatch((address,address,uint256,uint256,uint256,bytes32,bytes,uint256)[] applications) returns()
func (depegApplicationBatch *DepegApplicationBatch) TryPackApplyBatch(applications []DepegApplicationBatchApplication) ([]byte, error) {
	return depegApplicationBatch.abi.Pack("applyBatch", applications)
}

// PackProduct is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xbf9ce952.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function product() view returns(address)
func (depegApplicationBatch *DepegApplicationBatch) PackProduct() []byte {
	enc, err := depegApplicationBatch.abi.Pack("product")
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
func (depegApplicationBatch *DepegApplicationBatch) TryPackProduct() ([]byte, error) {
	return depegApplicationBatch.abi.Pack("product")
}

// UnpackProduct is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0xbf9ce952.
//
// Solidity: function product() view returns(address)
func (depegApplicationBatch *DepegApplicationBatch) UnpackProduct(data []byte) (common.Address, error) {
	out, err := depegApplicationBatch.abi.Unpack("product", data)
	if err != nil {
		return *new(common.Address), err
	}
	out0 := *abi.ConvertType(out[0], new(common.Address)).(*common.Address)
	return out0, nil
}

// DepegApplicationBatchApplicationApplied represents a ApplicationApplied event raised by the DepegApplicationBatch contract.
type DepegApplicationBatchApplicationApplied struct {
	SignatureHash [32]byte
	Index         *big.Int
	ProcessId     [32]byte
	Raw           *types.Log // Blockchain specific contextual infos
}

const DepegApplicationBatchApplicationAppliedEventName = "ApplicationApplied"

// ContractEventName returns the user-defined event name.
func (DepegApplicationBatchApplicationApplied) ContractEventName() string {
	return DepegApplicationBatchApplicationAppliedEventName
}

// UnpackApplicationAppliedEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event ApplicationApplied(bytes32 indexed signatureHash, uint256 index, bytes32 processId)
func (depegApplicationBatch *DepegApplicationBatch) UnpackApplicationAppliedEvent(log *types.Log) (*DepegApplicationBatchApplicationApplied, error) {
	event := "ApplicationApplied"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != depegApplicationBatch.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(DepegApplicationBatchApplicationApplied)
	if len(log.Data) > 0 {
		if err := depegApplicationBatch.abi.UnpackIntoInterface(out, event, log.Data); err != nil {
			return nil, err
		}
	}
	var indexed abi.Arguments
	for _, arg := range depegApplicationBatch.abi.Events[event].Inputs {
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

// DepegApplicationBatchApplicationFailed represents a ApplicationFailed event raised by the DepegApplicationBatch contract.
type DepegApplicationBatchApplicationFailed struct {
	SignatureHash [32]byte
	Index         *big.Int
	Reason        []byte
	Raw           *types.Log // Blockchain specific contextual infos
}

const DepegApplicationBatchApplicationFailedEventName = "ApplicationFailed"

// ContractEventName returns the user-defined event name.
func (DepegApplicationBatchApplicationFailed) ContractEventName() string {
	return DepegApplicationBatchApplicationFailedEventName
}

// UnpackApplicationFailedEvent is the Go binding that unpacks the event data emitted
// by contract.
//
// Solidity: event ApplicationFailed(bytes32 indexed signatureHash, uint256 index, bytes reason)
func (depegApplicationBatch *DepegApplicationBatch) UnpackApplicationFailedEvent(log *types.Log) (*DepegApplicationBatchApplicationFailed, error) {
	event := "ApplicationFailed"
	if len(log.Topics) == 0 {
		return nil, bind.ErrNoEventSignature
	}
	if log.Topics[0] != depegApplicationBatch.abi.Events[event].ID {
		return nil, bind.ErrEventSignatureMismatch
	}
	out := new(DepegApplicationBatchApplicationFailed)
	if len(log.Data) > 0 {
		if err := depegApplicationBatch.abi.UnpackIntoInterface(out, event, log.Data); err != nil {
			return nil, err
		}
	}
	var indexed abi.Arguments
	for _, arg := range depegApplicationBatch.abi.Events[event].Inputs {
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

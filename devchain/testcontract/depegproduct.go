// Code generated via abigen V2 - DO NOT EDIT.
// This file is a generated binding and any manual changes will be lost.

package testcontract

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
	ABI: "[{\"inputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"constructor\"},{\"anonymous\":false,\"inputs\":[{\"indexed\":false,\"internalType\":\"bytes32\",\"name\":\"processId\",\"type\":\"bytes32\"},{\"indexed\":false,\"internalType\":\"address\",\"name\":\"policyHolder\",\"type\":\"address\"},{\"indexed\":false,\"internalType\":\"address\",\"name\":\"protectedWallet\",\"type\":\"address\"},{\"indexed\":false,\"internalType\":\"uint256\",\"name\":\"protectedBalance\",\"type\":\"uint256\"},{\"indexed\":false,\"internalType\":\"uint256\",\"name\":\"sumInsuredAmount\",\"type\":\"uint256\"},{\"indexed\":false,\"internalType\":\"uint256\",\"name\":\"premiumAmount\",\"type\":\"uint256\"}],\"name\":\"LogDepegApplicationCreated\",\"type\":\"event\"},{\"inputs\":[],\"name\":\"FOREIGN_BUNDLE_START\",\"outputs\":[{\"internalType\":\"uint256\",\"name\":\"\",\"type\":\"uint256\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"MAX_PROTECTED_BALANCE\",\"outputs\":[{\"internalType\":\"uint256\",\"name\":\"\",\"type\":\"uint256\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"active\",\"outputs\":[{\"internalType\":\"bool\",\"name\":\"\",\"type\":\"bool\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"applicationCount\",\"outputs\":[{\"internalType\":\"uint256\",\"name\":\"\",\"type\":\"uint256\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"bytes32\",\"name\":\"\",\"type\":\"bytes32\"}],\"name\":\"applicationsBySignatureId\",\"outputs\":[{\"internalType\":\"uint256\",\"name\":\"\",\"type\":\"uint256\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"address\",\"name\":\"policyHolder\",\"type\":\"address\"},{\"internalType\":\"address\",\"name\":\"protectedWallet\",\"type\":\"address\"},{\"internalType\":\"uint256\",\"name\":\"protectedBalance\",\"type\":\"uint256\"},{\"internalType\":\"uint256\",\"name\":\"duration\",\"type\":\"uint256\"},{\"internalType\":\"uint256\",\"name\":\"bundleId\",\"type\":\"uint256\"},{\"internalType\":\"bytes32\",\"name\":\"signatureId\",\"type\":\"bytes32\"},{\"internalType\":\"bytes\",\"name\":\"signature\",\"type\":\"bytes\"}],\"name\":\"applyForPolicyWithBundleAndSignature\",\"outputs\":[{\"internalType\":\"bytes32\",\"name\":\"processId\",\"type\":\"bytes32\"}],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"gasBurnIterations\",\"outputs\":[{\"internalType\":\"uint256\",\"name\":\"\",\"type\":\"uint256\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"getMessageHelperAddress\",\"outputs\":[{\"internalType\":\"address\",\"name\":\"\",\"type\":\"address\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[],\"name\":\"owner\",\"outputs\":[{\"internalType\":\"address\",\"name\":\"\",\"type\":\"address\"}],\"stateMutability\":\"view\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"bool\",\"name\":\"active_\",\"type\":\"bool\"}],\"name\":\"setActive\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"},{\"inputs\":[{\"internalType\":\"uint256\",\"name\":\"iterations\",\"type\":\"uint256\"}],\"name\":\"setGasBurnIterations\",\"outputs\":[],\"stateMutability\":\"nonpayable\",\"type\":\"function\"}]",
	ID:  "DepegProduct",
	Bin: "0x60c06040525f805460ff19166001179055348015601a575f80fd5b50336080526040513090602b906064565b6001600160a01b039091168152602001604051809103905ff0801580156053573d5f803e3d5ffd5b506001600160a01b031660a0526071565b6107b3806108d283390190565b60805160a05161082b6100a75f395f8181610186015261032b01525f81816101220152818161054f01526105c5015261082b5ff3fe608060405234801561000f575f80fd5b50600436106100a6575f3560e01c80638da5cb5b1161006e5780638da5cb5b1461011d57806390c9945c1461015c578063acec338a14610171578063cb3bbeb414610184578063e2aad4a0146101aa578063ee887c46146101b3575f80fd5b806302fb0c5e146100aa578063182b2301146100cb5780635ba8b3a1146100e25780636d5940a9146101015780636fd6f21114610114575b5f80fd5b5f546100b69060ff1681565b60405190151581526020015b60405180910390f35b6100d460015481565b6040519081526020016100c2565b6100d46100f036600461063d565b60036020525f908152604090205481565b6100d461010f36600461066f565b6101c7565b6100d46103e881565b6101447f000000000000000000000000000000000000000000000000000000000000000081565b6040516001600160a01b0390911681526020016100c2565b61016f61016a36600461063d565b610544565b005b61016f61017f366004610721565b6105ba565b7f0000000000000000000000000000000000000000000000000000000000000000610144565b6100d460025481565b6100d46c0c9f2c9cd04674edea4000000081565b5f805460ff1661021e5760405162461bcd60e51b815260206004820152601f60248201527f4552524f523a44502d3031303a50524f445543545f4e4f545f4143544956450060448201526064015b60405180910390fd5b6001600160a01b0388166102745760405162461bcd60e51b815260206004820181905260248201527f4552524f523a44502d3031313a57414c4c45545f414444524553535f5a45524f6044820152606401610215565b5f85116102c35760405162461bcd60e51b815260206004820152601b60248201527f4552524f523a44502d3031323a42554e444c455f49445f5a45524f00000000006044820152606401610215565b6103e885106103145760405162461bcd60e51b815260206004820152601e60248201527f4552524f523a44502d3031333a5249534b504f4f4c5f4d49534d4154434800006044820152606401610215565b604051630490d6af60e21b81526001600160a01b037f000000000000000000000000000000000000000000000000000000000000000016906312435abc9061036e908c908c908c908c908c908c908c908c90600401610747565b5f604051808303815f87803b158015610385575f80fd5b505af1158015610397573d5f803e3d5ffd5b505050506c0c9f2c9cd04674edea4000000087111580156103b757505f86115b6104035760405162461bcd60e51b815260206004820181905260248201527f4552524f523a44502d3031363a554e44455257524954494e475f4641494c45446044820152606401610215565b6004545f5b60015481101561044857604080516020810184905290810182905260600160408051601f1981840301815291905280516020909101209150600101610408565b5080600481905550600160025f82825461046291906107b1565b90915550505f8581526003602052604081208054600192906104859084906107b1565b909155505060025460408051602081019290925281018690526001600160a01b038b1660608201526080016040516020818303038152906040528051906020012091507fe9ee0183bb05acb9c83f3ca28e0b464a367e85b86ef86d19ea611189f9b63cd7828b8b8b8c60648e6104fb91906107d6565b604080519687526001600160a01b03958616602088015293909416928501929092526060840152608083015260a082015260c00160405180910390a15098975050505050505050565b336001600160a01b037f000000000000000000000000000000000000000000000000000000000000000016146105b55760405162461bcd60e51b815260206004820152601660248201527522a92927a91d2228169818189d2727aa2fa7aba722a960511b6044820152606401610215565b600155565b336001600160a01b037f0000000000000000000000000000000000000000000000000000000000000000161461062b5760405162461bcd60e51b815260206004820152601660248201527522a92927a91d2228169818189d2727aa2fa7aba722a960511b6044820152606401610215565b5f805460ff1916911515919091179055565b5f6020828403121561064d575f80fd5b5035919050565b80356001600160a01b038116811461066a575f80fd5b919050565b5f805f805f805f8060e0898b031215610686575f80fd5b61068f89610654565b975061069d60208a01610654565b965060408901359550606089013594506080890135935060a0890135925060c089013567ffffffffffffffff8111156106d4575f80fd5b8901601f81018b136106e4575f80fd5b803567ffffffffffffffff8111156106fa575f80fd5b8b602082840101111561070b575f80fd5b989b979a50959850939692959194602001935050565b5f60208284031215610731575f80fd5b81358015158114610740575f80fd5b9392505050565b6001600160a01b0389811682528816602082015260408101879052606081018690526080810185905260a0810184905260e060c08201819052810182905281836101008301375f81830161010090810191909152601f909201601f19160101979650505050505050565b808201808211156107d057634e487b7160e01b5f52601160045260245ffd5b92915050565b5f826107f057634e487b7160e01b5f52601260045260245ffd5b50049056fea2646970667358221220b9ffde2db53937f08160985613fdc57f6a771e9b9077f10e8f23a44571fead9664736f6c634300081a003360a0604052348015600e575f80fd5b506040516107b33803806107b3833981016040819052602b91603b565b6001600160a01b03166080526066565b5f60208284031215604a575f80fd5b81516001600160a01b0381168114605f575f80fd5b9392505050565b6080516107306100835f395f8181609f015260fa01526107305ff3fe608060405234801561000f575f80fd5b506004361061004a575f3560e01c806312435abc1461004e578063a954acd414610063578063bf9ce9521461009a578063f698da25146100d9575b5f80fd5b61006161005c3660046105c9565b6100ef565b005b61008561007136600461067b565b5f6020819052908152604090205460ff1681565b60405190151581526020015b60405180910390f35b6100c17f000000000000000000000000000000000000000000000000000000000000000081565b6040516001600160a01b039091168152602001610091565b6100e161032d565b604051908152602001610091565b336001600160a01b037f0000000000000000000000000000000000000000000000000000000000000000161461016c5760405162461bcd60e51b815260206004820181905260248201527f4552524f523a444d482d3030303a43414c4c45525f4e4f545f50524f4455435460448201526064015b60405180910390fd5b5f828260405161017d929190610692565b60408051918290039091205f8181526020819052919091205490915060ff16156101e95760405162461bcd60e51b815260206004820152601c60248201527f4552524f523a444d482d3030313a5349474e41545552455f55534544000000006044820152606401610163565b604080517fb6dd538ff87d5c91deec48f5de8217be49503aae080311a8c657fadf3bc6e9ba60208201526001600160a01b038a1691810191909152606081018890526080810187905260a0810186905260c081018590525f9060e0016040516020818303038152906040528051906020012090505f61026661032d565b60405161190160f01b60208201526022810191909152604281018390526062016040516020818303038152906040528051906020012090508a6001600160a01b03166102b38287876103d1565b6001600160a01b0316146103095760405162461bcd60e51b815260206004820152601f60248201527f4552524f523a444d482d3030323a5349474e41545552455f494e56414c4944006044820152606401610163565b50505f908152602081905260409020805460ff191660011790555050505050505050565b604080517f8b73c3c69bb8fe3d512ecc4cf759cc79239f7b179b0ffacaa9a75d522b39400f60208201527f55d9572bc870968148d64559e3f054afe52848f22a50302a667bf2b58a0c131b918101919091527fc89efdaa54c0f20c7adf612882df0950f5a951637e0307cdcb4c672f298b8bc660608201524660808201523060a08201525f9060c00160405160208183030381529060405280519060200120905090565b5f604182146104225760405162461bcd60e51b815260206004820152601f60248201527f45434453413a20696e76616c6964207369676e6174757265206c656e677468006044820152606401610163565b5f61043060208285876106a1565b610439916106c8565b90505f61044a6040602086886106a1565b610453916106c8565b90505f85856040818110610469576104696106e6565b919091013560f81c9150507f7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a08211156104ef5760405162461bcd60e51b815260206004820152602260248201527f45434453413a20696e76616c6964207369676e6174757265202773272076616c604482015261756560f01b6064820152608401610163565b604080515f808252602082018084528a905260ff841692820192909252606081018590526080810184905260019060a0016020604051602081039080840390855afa158015610540573d5f803e3d5ffd5b5050604051601f1901519150506001600160a01b0381166105a35760405162461bcd60e51b815260206004820152601860248201527f45434453413a20696e76616c6964207369676e617475726500000000000000006044820152606401610163565b979650505050505050565b80356001600160a01b03811681146105c4575f80fd5b919050565b5f805f805f805f8060e0898b0312156105e0575f80fd5b6105e9896105ae565b97506105f760208a016105ae565b965060408901359550606089013594506080890135935060a0890135925060c089013567ffffffffffffffff81111561062e575f80fd5b8901601f81018b1361063e575f80fd5b803567ffffffffffffffff811115610654575f80fd5b8b6020828401011115610665575f80fd5b989b979a50959850939692959194602001935050565b5f6020828403121561068b575f80fd5b5035919050565b818382375f9101908152919050565b5f80858511156106af575f80fd5b838611156106bb575f80fd5b5050820193919092039150565b803560208310156106e0575f19602084900360031b1b165b92915050565b634e487b7160e01b5f52603260045260245ffdfea264697066735822122033242bb0f7d27005396b6de47aca013fc2874d9234c65b998a6b13166e957a2564736f6c634300081a0033",
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

// PackFOREIGNBUNDLESTART is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x6fd6f211.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function FOREIGN_BUNDLE_START() view returns(uint256)
func (depegProduct *DepegProduct) PackFOREIGNBUNDLESTART() []byte {
	enc, err := depegProduct.abi.Pack("FOREIGN_BUNDLE_START")
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackFOREIGNBUNDLESTART is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x6fd6f211.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function FOREIGN_BUNDLE_START() view returns(uint256)
func (depegProduct *DepegProduct) TryPackFOREIGNBUNDLESTART() ([]byte, error) {
	return depegProduct.abi.Pack("FOREIGN_BUNDLE_START")
}

// UnpackFOREIGNBUNDLESTART is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x6fd6f211.
//
// Solidity: function FOREIGN_BUNDLE_START() view returns(uint256)
func (depegProduct *DepegProduct) UnpackFOREIGNBUNDLESTART(data []byte) (*big.Int, error) {
	out, err := depegProduct.abi.Unpack("FOREIGN_BUNDLE_START", data)
	if err != nil {
		return new(big.Int), err
	}
	out0 := abi.ConvertType(out[0], new(big.Int)).(*big.Int)
	return out0, nil
}

// PackMAXPROTECTEDBALANCE is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xee887c46.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function MAX_PROTECTED_BALANCE() view returns(uint256)
func (depegProduct *DepegProduct) PackMAXPROTECTEDBALANCE() []byte {
	enc, err := depegProduct.abi.Pack("MAX_PROTECTED_BALANCE")
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackMAXPROTECTEDBALANCE is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xee887c46.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function MAX_PROTECTED_BALANCE() view returns(uint256)
func (depegProduct *DepegProduct) TryPackMAXPROTECTEDBALANCE() ([]byte, error) {
	return depegProduct.abi.Pack("MAX_PROTECTED_BALANCE")
}

// UnpackMAXPROTECTEDBALANCE is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0xee887c46.
//
// Solidity: function MAX_PROTECTED_BALANCE() view returns(uint256)
func (depegProduct *DepegProduct) UnpackMAXPROTECTEDBALANCE(data []byte) (*big.Int, error) {
	out, err := depegProduct.abi.Unpack("MAX_PROTECTED_BALANCE", data)
	if err != nil {
		return new(big.Int), err
	}
	out0 := abi.ConvertType(out[0], new(big.Int)).(*big.Int)
	return out0, nil
}

// PackActive is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x02fb0c5e.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function active() view returns(bool)
func (depegProduct *DepegProduct) PackActive() []byte {
	enc, err := depegProduct.abi.Pack("active")
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackActive is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x02fb0c5e.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function active() view returns(bool)
func (depegProduct *DepegProduct) TryPackActive() ([]byte, error) {
	return depegProduct.abi.Pack("active")
}

// UnpackActive is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x02fb0c5e.
//
// Solidity: function active() view returns(bool)
func (depegProduct *DepegProduct) UnpackActive(data []byte) (bool, error) {
	out, err := depegProduct.abi.Unpack("active", data)
	if err != nil {
		return *new(bool), err
	}
	out0 := *abi.ConvertType(out[0], new(bool)).(*bool)
	return out0, nil
}

// PackApplicationCount is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xe2aad4a0.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function applicationCount() view returns(uint256)
func (depegProduct *DepegProduct) PackApplicationCount() []byte {
	enc, err := depegProduct.abi.Pack("applicationCount")
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackApplicationCount is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xe2aad4a0.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function applicationCount() view returns(uint256)
func (depegProduct *DepegProduct) TryPackApplicationCount() ([]byte, error) {
	return depegProduct.abi.Pack("applicationCount")
}

// UnpackApplicationCount is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0xe2aad4a0.
//
// Solidity: function applicationCount() view returns(uint256)
func (depegProduct *DepegProduct) UnpackApplicationCount(data []byte) (*big.Int, error) {
	out, err := depegProduct.abi.Unpack("applicationCount", data)
	if err != nil {
		return new(big.Int), err
	}
	out0 := abi.ConvertType(out[0], new(big.Int)).(*big.Int)
	return out0, nil
}

// PackApplicationsBySignatureId is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x5ba8b3a1.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function applicationsBySignatureId(bytes32 ) view returns(uint256)
func (depegProduct *DepegProduct) PackApplicationsBySignatureId(arg0 [32]byte) []byte {
	enc, err := depegProduct.abi.Pack("applicationsBySignatureId", arg0)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackApplicationsBySignatureId is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x5ba8b3a1.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function applicationsBySignatureId(bytes32 ) view returns(uint256)
func (depegProduct *DepegProduct) TryPackApplicationsBySignatureId(arg0 [32]byte) ([]byte, error) {
	return depegProduct.abi.Pack("applicationsBySignatureId", arg0)
}

// UnpackApplicationsBySignatureId is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x5ba8b3a1.
//
// Solidity: function applicationsBySignatureId(bytes32 ) view returns(uint256)
func (depegProduct *DepegProduct) UnpackApplicationsBySignatureId(data []byte) (*big.Int, error) {
	out, err := depegProduct.abi.Unpack("applicationsBySignatureId", data)
	if err != nil {
		return new(big.Int), err
	}
	out0 := abi.ConvertType(out[0], new(big.Int)).(*big.Int)
	return out0, nil
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

// PackGasBurnIterations is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x182b2301.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function gasBurnIterations() view returns(uint256)
func (depegProduct *DepegProduct) PackGasBurnIterations() []byte {
	enc, err := depegProduct.abi.Pack("gasBurnIterations")
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackGasBurnIterations is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x182b2301.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function gasBurnIterations() view returns(uint256)
func (depegProduct *DepegProduct) TryPackGasBurnIterations() ([]byte, error) {
	return depegProduct.abi.Pack("gasBurnIterations")
}

// UnpackGasBurnIterations is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x182b2301.
//
// Solidity: function gasBurnIterations() view returns(uint256)
func (depegProduct *DepegProduct) UnpackGasBurnIterations(data []byte) (*big.Int, error) {
	out, err := depegProduct.abi.Unpack("gasBurnIterations", data)
	if err != nil {
		return new(big.Int), err
	}
	out0 := abi.ConvertType(out[0], new(big.Int)).(*big.Int)
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

// PackOwner is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x8da5cb5b.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function owner() view returns(address)
func (depegProduct *DepegProduct) PackOwner() []byte {
	enc, err := depegProduct.abi.Pack("owner")
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackOwner is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x8da5cb5b.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function owner() view returns(address)
func (depegProduct *DepegProduct) TryPackOwner() ([]byte, error) {
	return depegProduct.abi.Pack("owner")
}

// UnpackOwner is the Go binding that unpacks the parameters returned
// from invoking the contract method with ID 0x8da5cb5b.
//
// Solidity: function owner() view returns(address)
func (depegProduct *DepegProduct) UnpackOwner(data []byte) (common.Address, error) {
	out, err := depegProduct.abi.Unpack("owner", data)
	if err != nil {
		return *new(common.Address), err
	}
	out0 := *abi.ConvertType(out[0], new(common.Address)).(*common.Address)
	return out0, nil
}

// PackSetActive is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xacec338a.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function setActive(bool active_) returns()
func (depegProduct *DepegProduct) PackSetActive(active bool) []byte {
	enc, err := depegProduct.abi.Pack("setActive", active)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackSetActive is the Go binding used to pack the parameters required for calling
// the contract method with ID 0xacec338a.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function setActive(bool active_) returns()
func (depegProduct *DepegProduct) TryPackSetActive(active bool) ([]byte, error) {
	return depegProduct.abi.Pack("setActive", active)
}

// PackSetGasBurnIterations is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x90c9945c.  This method will panic if any
// invalid/nil inputs are passed.
//
// Solidity: function setGasBurnIterations(uint256 iterations) returns()
func (depegProduct *DepegProduct) PackSetGasBurnIterations(iterations *big.Int) []byte {
	enc, err := depegProduct.abi.Pack("setGasBurnIterations", iterations)
	if err != nil {
		panic(err)
	}
	return enc
}

// TryPackSetGasBurnIterations is the Go binding used to pack the parameters required for calling
// the contract method with ID 0x90c9945c.  This method will return an error
// if any inputs are invalid/nil.
//
// Solidity: function setGasBurnIterations(uint256 iterations) returns()
func (depegProduct *DepegProduct) TryPackSetGasBurnIterations(iterations *big.Int) ([]byte, error) {
	return depegProduct.abi.Pack("setGasBurnIterations", iterations)
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

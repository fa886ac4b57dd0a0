// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.26;

// Test double of the deployed Etherisc DepegProduct and its message helper.
// It keeps the production ABI of applyForPolicyWithBundleAndSignature,
// getMessageHelperAddress and LogDepegApplicationCreated, the EIP-712 check of
// the real DepegMessageHelper and the same revert strings, and adds what tests
// need: a pause switch, a gas burner (to make an application cost what it does
// on mainnet) and a per-signatureId counter to prove "created exactly once".

contract DepegMessageHelper {
    bytes32 private constant EIP712_DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 private constant POLICY_TYPEHASH =
        keccak256("Policy(address wallet,uint256 protectedBalance,uint256 duration,uint256 bundleId,bytes32 signatureId)");
    uint256 private constant HALF_ORDER = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;

    address public immutable product;
    mapping(bytes32 => bool) public signatureIsUsed;

    constructor(address product_) {
        product = product_;
    }

    function domainSeparator() public view returns (bytes32) {
        return keccak256(
            abi.encode(EIP712_DOMAIN_TYPEHASH, keccak256("EtheriscDepeg"), keccak256("1"), block.chainid, address(this))
        );
    }

    function checkAndRegisterSignature(
        address policyHolder,
        address protectedWallet,
        uint256 protectedBalance,
        uint256 duration,
        uint256 bundleId,
        bytes32 signatureId,
        bytes calldata signature
    ) external {
        require(msg.sender == product, "ERROR:DMH-000:CALLER_NOT_PRODUCT");
        bytes32 signatureHash = keccak256(signature);
        require(!signatureIsUsed[signatureHash], "ERROR:DMH-001:SIGNATURE_USED");
        bytes32 structHash = keccak256(
            abi.encode(POLICY_TYPEHASH, protectedWallet, protectedBalance, duration, bundleId, signatureId)
        );
        bytes32 digest = keccak256(abi.encodePacked("\x19\x01", domainSeparator(), structHash));
        require(recover(digest, signature) == policyHolder, "ERROR:DMH-002:SIGNATURE_INVALID");
        signatureIsUsed[signatureHash] = true;
    }

    function recover(bytes32 digest, bytes calldata signature) internal pure returns (address) {
        require(signature.length == 65, "ECDSA: invalid signature length");
        bytes32 r = bytes32(signature[0:32]);
        bytes32 s = bytes32(signature[32:64]);
        uint8 v = uint8(signature[64]);
        require(uint256(s) <= HALF_ORDER, "ECDSA: invalid signature 's' value");
        address signer = ecrecover(digest, v, r, s);
        require(signer != address(0), "ECDSA: invalid signature");
        return signer;
    }
}

contract DepegProduct {
    event LogDepegApplicationCreated(
        bytes32 processId,
        address policyHolder,
        address protectedWallet,
        uint256 protectedBalance,
        uint256 sumInsuredAmount,
        uint256 premiumAmount
    );

    // Bundle ids at or above this belong to another riskpool.
    uint256 public constant FOREIGN_BUNDLE_START = 1000;
    // Protected balances above this cannot be underwritten.
    uint256 public constant MAX_PROTECTED_BALANCE = 10 ** 30;

    address public immutable owner;
    DepegMessageHelper private immutable helper;
    bool public active = true;
    uint256 public gasBurnIterations;
    uint256 public applicationCount;
    mapping(bytes32 => uint256) public applicationsBySignatureId;
    uint256 private burnSink;

    constructor() {
        owner = msg.sender;
        helper = new DepegMessageHelper(address(this));
    }

    modifier onlyOwner() {
        require(msg.sender == owner, "ERROR:DP-001:NOT_OWNER");
        _;
    }

    function setActive(bool active_) external onlyOwner {
        active = active_;
    }

    function setGasBurnIterations(uint256 iterations) external onlyOwner {
        gasBurnIterations = iterations;
    }

    function getMessageHelperAddress() external view returns (address) {
        return address(helper);
    }

    function applyForPolicyWithBundleAndSignature(
        address policyHolder,
        address protectedWallet,
        uint256 protectedBalance,
        uint256 duration,
        uint256 bundleId,
        bytes32 signatureId,
        bytes calldata signature
    ) external returns (bytes32 processId) {
        require(active, "ERROR:DP-010:PRODUCT_NOT_ACTIVE");
        require(protectedWallet != address(0), "ERROR:DP-011:WALLET_ADDRESS_ZERO");
        require(bundleId > 0, "ERROR:DP-012:BUNDLE_ID_ZERO");
        require(bundleId < FOREIGN_BUNDLE_START, "ERROR:DP-013:RISKPOOL_MISMATCH");
        helper.checkAndRegisterSignature(
            policyHolder, protectedWallet, protectedBalance, duration, bundleId, signatureId, signature
        );
        require(protectedBalance <= MAX_PROTECTED_BALANCE && duration > 0, "ERROR:DP-016:UNDERWRITING_FAILED");

        uint256 acc = burnSink;
        for (uint256 i = 0; i < gasBurnIterations; i++) {
            acc = uint256(keccak256(abi.encode(acc, i)));
        }
        burnSink = acc;

        applicationCount += 1;
        applicationsBySignatureId[signatureId] += 1;
        processId = keccak256(abi.encode(applicationCount, signatureId, policyHolder));
        emit LogDepegApplicationCreated(
            processId, policyHolder, protectedWallet, protectedBalance, protectedBalance, protectedBalance / 100
        );
    }
}

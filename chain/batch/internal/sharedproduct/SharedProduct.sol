// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.26;

// A test product for the batch contract's gas figure on a product that,
// like the deployed DepegProduct (etherisc/depeg-contracts on the GIF),
// calls other contracts and touches storage every application shares. Per
// application it does the same kinds of work as the real
// applyForPolicyWithBundleAndSignature, not the same amount:
//   - a call to a separate signature registry that checks the EIP-712
//     signature and marks it used (DepegMessageHelper, without access
//     control as there);
//   - reads of the bundle and the holder's token balance and allowance, and
//     a check of the bundle's capacity (DepegRiskpool, InstanceService);
//   - a new process id from a counter every application shares, the
//     application's record, the product's list of applications and the
//     holder's (PolicyController, DepegProduct._applications);
//   - the bundle's locked capital and the riskpool's totals raised
//     (BundleController.collateralizePolicy, PoolController);
//   - the premium collected by a treasury with two ERC20 transferFroms of
//     the holder's allowance, the fee to the instance wallet and the net
//     premium to the riskpool wallet (TreasuryModule.processPremium);
//   - LogDepegApplicationCreated with the process id, then
//     LogDepegPolicyCreated.
// What it leaves out (the GIF's registry look-ups, access-control calls,
// metadata and policy records) would only add cold work that a batch
// cannot share, so the batch's saving measured here is, if anything, larger
// than on the real product. It keeps the production ABI and revert strings
// of the calls the relay makes, so the batch contract and the relay's
// revert classes work with it unchanged.

// PremiumToken is a minimal ERC20 with a test faucet that gives a holder a
// balance and an allowance at once: the holders of test applications are
// keys that hold no ether to send an approve of their own.
contract PremiumToken {
    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    function approve(address spender, uint256 amount) external returns (bool) {
        allowance[msg.sender][spender] = amount;
        emit Approval(msg.sender, spender, amount);
        return true;
    }

    // faucet mints amount to holder and lets spender take it (test only).
    function faucet(address holder, address spender, uint256 amount) external {
        totalSupply += amount;
        balanceOf[holder] += amount;
        allowance[holder][spender] = amount;
        emit Transfer(address(0), holder, amount);
        emit Approval(holder, spender, amount);
    }

    function transferFrom(address from, address to, uint256 amount) external returns (bool) {
        uint256 allowed = allowance[from][msg.sender];
        require(allowed >= amount, "ERC20: insufficient allowance");
        allowance[from][msg.sender] = allowed - amount;
        uint256 balance = balanceOf[from];
        require(balance >= amount, "ERC20: transfer amount exceeds balance");
        balanceOf[from] = balance - amount;
        balanceOf[to] += amount;
        emit Transfer(from, to, amount);
        return true;
    }
}

// SignatureRegistry is the message helper: it checks an application's
// EIP-712 signature (domain "EtheriscDepeg", version "1", itself as the
// verifying contract) and marks it used, with the real one's revert
// strings. Like the real one it has no access control.
contract SignatureRegistry {
    bytes32 private constant EIP712_DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 private constant POLICY_TYPEHASH =
        keccak256("Policy(address wallet,uint256 protectedBalance,uint256 duration,uint256 bundleId,bytes32 signatureId)");
    uint256 private constant HALF_ORDER = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;

    // signatureIsUsed is keyed by keccak256 of the signature's bytes.
    mapping(bytes32 => bool) public signatureIsUsed;

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

// Riskpool holds the bundles' capital and locks a policy's sum insured in
// its bundle (BundleController and PoolController's shared totals).
contract Riskpool {
    struct Bundle {
        uint256 capital;
        uint256 lockedCapital;
        uint256 policies;
        uint256 updatedAt;
    }

    address public immutable product;
    uint256 public immutable riskpoolId;
    uint256 public totalLockedCapital;
    uint256 public activePolicies;
    mapping(uint256 => Bundle) public bundles;
    mapping(bytes32 => uint256) public lockedPerPolicy;

    constructor(address product_, uint256 riskpoolId_) {
        product = product_;
        riskpoolId = riskpoolId_;
    }

    function fundBundle(uint256 bundleId, uint256 amount) external {
        require(msg.sender == product, "ERROR:RP-001:NOT_PRODUCT");
        bundles[bundleId].capital += amount;
    }

    function capacity(uint256 bundleId) external view returns (uint256) {
        Bundle storage b = bundles[bundleId];
        return b.capital - b.lockedCapital;
    }

    // collateralize locks amount of bundleId for processId; false when the
    // bundle cannot carry it.
    function collateralize(uint256 bundleId, bytes32 processId, uint256 amount) external returns (bool) {
        require(msg.sender == product, "ERROR:RP-001:NOT_PRODUCT");
        Bundle storage b = bundles[bundleId];
        if (b.capital - b.lockedCapital < amount) {
            return false;
        }
        b.lockedCapital += amount;
        b.policies += 1;
        b.updatedAt = block.timestamp;
        lockedPerPolicy[processId] = amount;
        totalLockedCapital += amount;
        activePolicies += 1;
        return true;
    }
}

// Treasury collects a premium from the holder's allowance: the fee to the
// instance wallet and the rest to the riskpool wallet, and keeps the total.
contract Treasury {
    uint256 public constant FEE_PERCENT = 10;

    address public immutable product;
    PremiumToken public immutable token;
    address public immutable instanceWallet;
    address public immutable riskpoolWallet;
    uint256 public premiumCollected;
    mapping(bytes32 => uint256) public premiumOf;

    constructor(address product_, PremiumToken token_, address instanceWallet_, address riskpoolWallet_) {
        product = product_;
        token = token_;
        instanceWallet = instanceWallet_;
        riskpoolWallet = riskpoolWallet_;
    }

    function processPremium(bytes32 processId, address holder, uint256 premium) external {
        require(msg.sender == product, "ERROR:TRS-001:NOT_PRODUCT");
        uint256 fee = (premium * FEE_PERCENT) / 100;
        require(token.transferFrom(holder, instanceWallet, fee), "ERROR:TRS-002:FEE_TRANSFER_FAILED");
        require(token.transferFrom(holder, riskpoolWallet, premium - fee), "ERROR:TRS-003:PREMIUM_TRANSFER_FAILED");
        premiumOf[processId] = premium;
        premiumCollected += premium;
    }
}

contract SharedProduct {
    event LogDepegApplicationCreated(
        bytes32 processId,
        address policyHolder,
        address protectedWallet,
        uint256 protectedBalance,
        uint256 sumInsuredAmount,
        uint256 premiumAmount
    );
    event LogDepegPolicyCreated(bytes32 processId, address policyHolder, uint256 sumInsuredAmount);

    struct Application {
        address policyHolder;
        address protectedWallet;
        uint256 sumInsured;
        uint256 premium;
        uint256 bundleId;
        uint256 createdAt;
    }

    uint256 public constant RISKPOOL_ID = 1;
    // SUM_INSURED_PERCENT of the protected balance is insured.
    uint256 public constant SUM_INSURED_PERCENT = 20;
    // PREMIUM_PER_MILLE of the sum insured is the premium.
    uint256 public constant PREMIUM_PER_MILLE = 17;

    address public immutable owner;
    PremiumToken public immutable token;
    SignatureRegistry private immutable registry;
    Riskpool public immutable riskpool;
    Treasury public immutable treasury;

    bool public active = true;
    uint256 public processCount;
    bytes32[] public applicationIds;
    mapping(bytes32 => Application) public applications;
    mapping(address => bytes32[]) public processIdsForHolder;

    constructor(address instanceWallet, address riskpoolWallet) {
        owner = msg.sender;
        token = new PremiumToken();
        registry = new SignatureRegistry();
        riskpool = new Riskpool(address(this), RISKPOOL_ID);
        treasury = new Treasury(address(this), token, instanceWallet, riskpoolWallet);
    }

    modifier onlyOwner() {
        require(msg.sender == owner, "ERROR:DP-001:NOT_OWNER");
        _;
    }

    function setActive(bool active_) external onlyOwner {
        active = active_;
    }

    function fundBundle(uint256 bundleId, uint256 amount) external onlyOwner {
        riskpool.fundBundle(bundleId, amount);
    }

    function getMessageHelperAddress() external view returns (address) {
        return address(registry);
    }

    function applicationCount() external view returns (uint256) {
        return applicationIds.length;
    }

    function calculatePremium(uint256 protectedBalance) public pure returns (uint256 sumInsured, uint256 premium) {
        sumInsured = (protectedBalance * SUM_INSURED_PERCENT) / 100;
        premium = (sumInsured * PREMIUM_PER_MILLE) / 1000;
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
        registry.checkAndRegisterSignature(
            policyHolder, protectedWallet, protectedBalance, duration, bundleId, signatureId, signature
        );
        require(active, "ERROR:DP-010:PRODUCT_NOT_ACTIVE");
        require(protectedWallet != address(0), "ERROR:DP-011:WALLET_ADDRESS_ZERO");
        require(bundleId > 0, "ERROR:DP-012:BUNDLE_ID_ZERO");
        require(riskpool.riskpoolId() == RISKPOOL_ID, "ERROR:DP-013:RISKPOOL_MISMATCH");

        (uint256 sumInsured, uint256 premium) = calculatePremium(protectedBalance);
        require(token.balanceOf(policyHolder) >= premium, "ERROR:DP-014:BALANCE_TOO_LOW");
        require(token.allowance(policyHolder, address(treasury)) >= premium, "ERROR:DP-015:ALLOWANCE_TOO_LOW");

        processCount += 1;
        processId = keccak256(abi.encodePacked(block.chainid, address(this), processCount));
        applications[processId] = Application(policyHolder, protectedWallet, sumInsured, premium, bundleId, block.timestamp);
        applicationIds.push(processId);
        processIdsForHolder[policyHolder].push(processId);
        if (protectedWallet != policyHolder) {
            processIdsForHolder[protectedWallet].push(processId);
        }
        emit LogDepegApplicationCreated(processId, policyHolder, protectedWallet, protectedBalance, sumInsured, premium);

        require(riskpool.collateralize(bundleId, processId, sumInsured), "ERROR:DP-016:UNDERWRITING_FAILED");
        treasury.processPremium(processId, policyHolder, premium);
        emit LogDepegPolicyCreated(processId, policyHolder, sumInsured);
    }
}

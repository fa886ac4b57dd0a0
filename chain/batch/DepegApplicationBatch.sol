// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.26;

// The DepegProduct's application call, as the deployed product has it
// (etherisc/depeg-contracts): external, with no check of msg.sender or
// tx.origin, so a call from this contract is accepted as one from the
// relay's wallet is.
interface IDepegProduct {
    function applyForPolicyWithBundleAndSignature(
        address policyHolder,
        address protectedWallet,
        uint256 protectedBalance,
        uint256 duration,
        uint256 bundleId,
        bytes32 signatureId,
        bytes calldata signature
    ) external returns (bytes32 processId);
}

// DepegApplicationBatch applies several signed policy applications in one
// transaction, each with its own gas limit inside try/catch, and emits one
// event per application naming it by keccak256 of its signature (the key
// the product's message helper marks "used"): ApplicationApplied with the
// created processId, or ApplicationFailed with the revert data. One failing
// application never reverts the others. It holds no funds and no state, and
// anyone may call it: whoever calls pays the gas, and the product checks
// every application's signature itself.
contract DepegApplicationBatch {
    struct Application {
        address policyHolder;
        address protectedWallet;
        uint256 protectedBalance;
        uint256 duration;
        uint256 bundleId;
        bytes32 signatureId;
        bytes signature;
        // gasLimit is the most the product call of this application may use.
        uint256 gasLimit;
    }

    event ApplicationApplied(bytes32 indexed signatureHash, uint256 index, bytes32 processId);
    event ApplicationFailed(bytes32 indexed signatureHash, uint256 index, bytes reason);

    // RESERVE is kept back per application for what follows its call: the
    // event (with up to a few hundred bytes of revert data) and the loop.
    uint256 public constant RESERVE = 30_000;

    IDepegProduct public immutable product;

    constructor(IDepegProduct product_) {
        product = product_;
    }

    function applyBatch(Application[] calldata applications) external {
        for (uint256 i = 0; i < applications.length; i++) {
            Application calldata a = applications[i];
            // A call gets at most 63/64 of the gas left (EIP-150). Without
            // enough for this application's own limit its failure would be
            // the batch's, not its own: the whole transaction reverts
            // instead, and every application of it goes back to the queue.
            require(gasleft() >= a.gasLimit + a.gasLimit / 63 + RESERVE, "BATCH:OUT_OF_GAS");
            bytes32 signatureHash = keccak256(a.signature);
            try product.applyForPolicyWithBundleAndSignature{gas: a.gasLimit}(
                a.policyHolder, a.protectedWallet, a.protectedBalance, a.duration, a.bundleId, a.signatureId, a.signature
            ) returns (bytes32 processId) {
                emit ApplicationApplied(signatureHash, i, processId);
            } catch (bytes memory reason) {
                emit ApplicationFailed(signatureHash, i, reason);
            }
        }
    }
}

export { Approvals, ApprovalError, APPROVAL_ENVELOPES, approvalAad, callDigest } from './approvals.js';
export type { ApprovalsDeps, ApprovalStatus, ApprovalView, CallToApprove, Decider } from './approvals.js';

export { Approvals, ApprovalError, callDigest } from './approvals.js';
export type { ApprovalsDeps, ApprovalStatus, ApprovalView, CallToApprove, Decider } from './approvals.js';

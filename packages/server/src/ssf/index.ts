export { createSsfTransmitter } from './ssf-transmitter.js';
export type { SsfTransmitter, SsfTransmitterDeps } from './ssf-transmitter.js';
export { SsfReceivers, ssfReceiverInput } from './ssf-receivers.js';
export { bearerHoldsScope } from './bearer-auth.js';
export type { SsfReceiver } from './ssf-receivers.js';
export { subjectIdFor } from './subject-identifier.js';
export type { SubjectIdentifier } from './subject-identifier.js';
export { ssfConfiguration } from './ssf-routes.js';
export {
  DELIVERY_POLL,
  DELIVERY_PUSH,
  EVENT_SESSION_REVOKED,
  EVENT_STREAM_UPDATED,
  EVENT_TOOL_RESTORED,
  EVENT_TOOL_REVOKED,
  EVENT_VERIFICATION,
  SCOPE_MANAGE,
  SCOPE_READ,
  SCOPE_REVOCATION_FEED,
  SET_TYP,
} from './ssf-vocabulary.js';
export { SSF_STREAM_ENVELOPES } from './ssf-streams.js';
export { SET_KEY } from './set-signing-key.js';

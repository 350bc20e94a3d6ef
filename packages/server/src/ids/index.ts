/** Every kind of identifier Writ makes or accepts, in one place: register ids, time-ordered random ids, trace ids. */
export { isRegisterId, registerId, randomId } from './register-id.js';
export { uuidv7, timeOrderedTraceId, timeOrderedId } from './time-ordered-id.js';

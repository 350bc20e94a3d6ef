/**
 * What a receiver may send to the management API (SSF §8.1), allow-listed per operation. Transmitter-supplied
 * members of a stream configuration (RFC: "T") are accepted in updates so that a read-modify-write works, and ignored.
 */
import { z } from 'zod';
import { DELIVERY_POLL, DELIVERY_PUSH, STREAM_STATUSES } from './ssf-vocabulary.js';
import { subjectIdentifierInput } from './subject-identifier.js';
import { outboundUrl } from '../http/index.js';

export const streamId = z.string().min(1).max(100);
const eventUri = z.url().max(500);

/** Writ POSTs SETs to it. */
const pushEndpoint = outboundUrl;

export const deliveryInput = z.discriminatedUnion('method', [
  z.strictObject({
    method: z.literal(DELIVERY_PUSH),
    endpoint_url: pushEndpoint,
    // A header value: no control characters, so it cannot smuggle another header.
    authorization_header: z
      .string()
      .min(1)
      .max(4096)
      .regex(/^[\x20-\x7e]+$/, 'printable ASCII only')
      .optional(),
  }),
  // The poll endpoint is Writ's own: a receiver may echo it back (read-modify-write) but cannot choose it.
  z.strictObject({ method: z.literal(DELIVERY_POLL), endpoint_url: z.string().max(2000).optional() }),
]);

const receiverSupplied = {
  events_requested: z.array(eventUri).max(50).optional(),
  delivery: deliveryInput.optional(),
  description: z.string().max(1000).optional(),
};
const transmitterSupplied = {
  iss: z.string().optional(),
  aud: z.union([z.string(), z.array(z.string())]).optional(),
  events_supported: z.array(z.string()).optional(),
  events_delivered: z.array(z.string()).optional(),
  min_verification_interval: z.number().optional(),
  inactivity_timeout: z.number().optional(),
};

export const createStreamInput = z.strictObject(receiverSupplied);
export const updateStreamInput = z.strictObject({ stream_id: streamId, ...receiverSupplied, ...transmitterSupplied });
export type StreamChanges = z.output<typeof createStreamInput>;

export const streamQuery = z.strictObject({ stream_id: streamId.optional() });
export const requiredStreamQuery = z.strictObject({ stream_id: streamId });

export const statusInput = z.strictObject({
  stream_id: streamId,
  status: z.enum(STREAM_STATUSES),
  reason: z.string().min(1).max(500).optional(),
});

export const addSubjectInput = z.strictObject({
  stream_id: streamId,
  subject: subjectIdentifierInput,
  verified: z.boolean().optional(),
});
export const removeSubjectInput = z.strictObject({ stream_id: streamId, subject: subjectIdentifierInput });

export const verificationInput = z.strictObject({ stream_id: streamId, state: z.string().min(1).max(500).optional() });

/** RFC 8936 §2.4 poll request. */
export const pollInput = z.strictObject({
  maxEvents: z.number().int().min(0).max(1000).optional(),
  returnImmediately: z.boolean().optional(),
  ack: z.array(z.string().min(1).max(200)).max(1000).optional(),
  setErrs: z
    .record(z.string().min(1).max(200), z.strictObject({ err: z.string().min(1).max(100), description: z.string().max(1000).optional() }))
    .optional()
    .refine((o) => o === undefined || Object.keys(o).length <= 1000, 'at most 1000 setErrs'),
});
export type PollRequest = z.output<typeof pollInput>;

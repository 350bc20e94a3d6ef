/**
 * The transmitter's HTTP surface: discovery (SSF §7.1), the stream management API (SSF §8.1) and each stream's
 * RFC 8936 poll endpoint. Every request is authenticated as a receiver, every input allow-listed by its zod schema;
 * a bad request is a 400 that changes nothing.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodType, z } from 'zod';
import { PATHS } from '@writ/protocol';
import type { AuditPort } from '../audit/index.js';
import { headerValues } from '@writ/verify/internal';
import { authenticateReceiver } from './bearer-auth.js';
import { SsfError } from '../errors/index.js';
import type { FailedAuthThrottle } from '../http/index.js';
import type { SsfOutbox } from './ssf-outbox.js';
import type { SsfReceiver, SsfReceivers } from './ssf-receivers.js';
import type { SsfStreams } from './ssf-streams.js';
import type { PollWaiters } from './poll-waiters.js';
import { streamUpdatedEvent, verificationEvent } from './security-event-token.js';
import {
  addSubjectInput,
  createStreamInput,
  pollInput,
  removeSubjectInput,
  requiredStreamQuery,
  statusInput,
  streamQuery,
  updateStreamInput,
  verificationInput,
} from './stream-input.js';
import { CRITICAL_SUBJECT_MEMBERS } from './subject-identifier.js';
import { DELIVERY_METHODS, DELIVERY_POLL, SCOPE_MANAGE, SCOPE_READ, SSF_SPEC_VERSION, type SsfScope } from './ssf-vocabulary.js';

export interface SsfRouteDeps {
  issuer: string;
  receivers: SsfReceivers;
  streams: SsfStreams;
  outbox: SsfOutbox;
  waiters: PollWaiters;
  audit: AuditPort;
  pollMaxWaitMs: number;
  /** Failed receiver authentications per address: shared with the admin API, so guessing at either counts. */
  throttle: FailedAuthThrottle;
}

const READ: readonly SsfScope[] = [SCOPE_READ, SCOPE_MANAGE];
const MANAGE: readonly SsfScope[] = [SCOPE_MANAGE];
/** A long poll looks at the store again after this long, for SETs another node enqueued. */
const POLL_SLICE_MS = 2_000;
const DEFAULT_MAX_EVENTS = 100;

export function ssfConfiguration(issuer: string): Record<string, unknown> {
  return {
    spec_version: SSF_SPEC_VERSION,
    issuer,
    jwks_uri: `${issuer}${PATHS.jwks}`,
    delivery_methods_supported: [...DELIVERY_METHODS],
    configuration_endpoint: `${issuer}${PATHS.ssfStreams}`,
    status_endpoint: `${issuer}${PATHS.ssfStatus}`,
    add_subject_endpoint: `${issuer}${PATHS.ssfAddSubject}`,
    remove_subject_endpoint: `${issuer}${PATHS.ssfRemoveSubject}`,
    verification_endpoint: `${issuer}${PATHS.ssfVerification}`,
    critical_subject_members: [...CRITICAL_SUBJECT_MEMBERS],
    authorization_schemes: [{ spec_urn: 'urn:ietf:rfc:6749' }],
    default_subjects: 'ALL',
  };
}

export function registerSsfRoutes(app: FastifyInstance, deps: SsfRouteDeps): void {
  const { streams, outbox } = deps;
  const discovery = ssfConfiguration(deps.issuer);
  app.get(PATHS.ssfConfiguration, async (_req, reply) => reply.header('cache-control', 'public, max-age=300').send(discovery));

  // Long polls end when Writ shuts down, instead of holding the server open until their bound.
  app.addHook('preClose', (done) => {
    deps.waiters.close();
    done();
  });

  const auth = async (req: FastifyRequest, scopes: readonly SsfScope[]): Promise<SsfReceiver> => {
    const source = req.socket.remoteAddress ?? 'unknown';
    const wait = deps.throttle.retryAfterSeconds(source);
    if (wait > 0) throw tooManyFailures(wait);
    try {
      return await authenticateReceiver(deps.receivers, headerValues(req.raw.rawHeaders, 'authorization'), scopes);
    } catch (err) {
      if (!(err instanceof SsfError) || err.error !== 'invalid_token' || !hasBearer(req)) throw err;
      // A token was presented and is not valid: a failed authentication, counted per address.
      const locked = deps.throttle.fail(source);
      deps.audit.record({
        type: 'ssf.denied',
        action: `${req.method} ${req.url.split('?', 1)[0] ?? ''}`,
        decision: 'deny',
        reason: locked ? 'too_many_requests' : 'invalid_token',
        data: { source },
      });
      throw locked ? tooManyFailures(deps.throttle.retryAfterSeconds(source)) : err;
    }
  };
  const audited = (receiver: SsfReceiver, reason: string, streamId: string): void =>
    deps.audit.record({
      type: 'admin.change',
      actor_chain: [`ssf-receiver:${receiver.id}`],
      decision: 'allow',
      reason,
      data: { stream_id: streamId },
    });

  void app.register(async (scope) => {
    scope.post(PATHS.ssfStreams, async (req, reply) => {
      const receiver = await auth(req, MANAGE);
      const config = await streams.create(receiver, parse(createStreamInput, req.body));
      audited(receiver, 'ssf_stream.created', config.stream_id);
      return reply.code(201).header('cache-control', 'no-store').send(config);
    });
    scope.get(PATHS.ssfStreams, async (req, reply) => {
      const receiver = await auth(req, READ);
      const q = parse(streamQuery, req.query);
      reply.header('cache-control', 'no-store');
      if (q.stream_id !== undefined) return streams.configuration(await streams.get(receiver, q.stream_id), receiver);
      return (await streams.list(receiver)).map((row) => streams.configuration(row, receiver));
    });
    for (const method of ['PATCH', 'PUT'] as const)
      scope.route({
        method,
        url: PATHS.ssfStreams,
        handler: async (req, reply) => {
          const receiver = await auth(req, MANAGE);
          const input = parse(updateStreamInput, req.body);
          const config = await streams.update(receiver, input.stream_id, input, method === 'PUT');
          audited(receiver, 'ssf_stream.updated', config.stream_id);
          return reply.header('cache-control', 'no-store').send(config);
        },
      });
    scope.delete(PATHS.ssfStreams, async (req, reply) => {
      const receiver = await auth(req, MANAGE);
      const q = parse(requiredStreamQuery, req.query);
      await streams.delete(receiver, q.stream_id);
      audited(receiver, 'ssf_stream.deleted', q.stream_id);
      return reply.code(204).send();
    });

    scope.get(PATHS.ssfStatus, async (req, reply) => {
      const receiver = await auth(req, READ);
      const row = await streams.get(receiver, parse(requiredStreamQuery, req.query).stream_id);
      return reply
        .header('cache-control', 'no-store')
        .send({ stream_id: row.id, status: row.status, ...(row.status_reason !== null ? { reason: row.status_reason } : {}) });
    });
    scope.post(PATHS.ssfStatus, async (req, reply) => {
      const receiver = await auth(req, MANAGE);
      const input = parse(statusInput, req.body);
      const before = await streams.setStatus(receiver, input.stream_id, input.status, input.reason);
      if (before !== input.status) {
        // A disabled stream keeps nothing; the stream-updated SET that says so still goes out (a control event).
        if (input.status === 'disabled') await outbox.dropPending(input.stream_id);
        await outbox.enqueue(
          [{ id: input.stream_id, aud: receiver.audience }],
          streamUpdatedEvent(input.stream_id, input.status, input.reason),
        );
        audited(receiver, `ssf_stream.${input.status}`, input.stream_id);
      }
      return reply.send({
        stream_id: input.stream_id,
        status: input.status,
        ...(input.reason !== undefined ? { reason: input.reason } : {}),
      });
    });

    scope.post(PATHS.ssfAddSubject, async (req, reply) => {
      const receiver = await auth(req, MANAGE);
      const input = parse(addSubjectInput, req.body);
      await streams.addSubject(receiver, input.stream_id, input.subject, input.verified ?? true);
      return reply.code(200).send();
    });
    scope.post(PATHS.ssfRemoveSubject, async (req, reply) => {
      const receiver = await auth(req, MANAGE);
      const input = parse(removeSubjectInput, req.body);
      await streams.removeSubject(receiver, input.stream_id, input.subject);
      return reply.code(204).send();
    });

    scope.post(PATHS.ssfVerification, async (req, reply) => {
      const receiver = await auth(req, READ);
      const input = parse(verificationInput, req.body);
      if (!(await streams.claimVerification(receiver, input.stream_id)))
        throw new SsfError('too_many_requests', 'verification requested again within min_verification_interval');
      await outbox.enqueue([{ id: input.stream_id, aud: receiver.audience }], verificationEvent(input.stream_id, input.state));
      return reply.code(204).send();
    });

    scope.post(`${PATHS.ssfPollPrefix}:streamId`, async (req, reply) => {
      const receiver = await auth(req, READ);
      const row = await streams.get(receiver, (req.params as { streamId: string }).streamId);
      if (row.delivery_method !== DELIVERY_POLL) throw new SsfError('invalid_request', 'this stream is delivered by push, not poll');
      const input = parse(pollInput, req.body);
      await outbox.settle(row.id, input.ack ?? [], input.setErrs ?? {});
      reply.header('cache-control', 'no-store');
      const max = input.maxEvents ?? DEFAULT_MAX_EVENTS;
      if (max === 0) return { sets: {}, moreAvailable: (await outbox.deliverable(row.id, 0)).more };
      const gone = new AbortController();
      reply.raw.once('close', () => gone.abort());
      const deadline = Date.now() + (input.returnImmediately === true ? 0 : deps.pollMaxWaitMs);
      for (;;) {
        const { events, more } = await outbox.deliverable(row.id, max);
        const left = deadline - Date.now();
        if (events.length > 0 || left <= 0 || gone.signal.aborted)
          return { sets: Object.fromEntries(events.map((e) => [e.jti, e.set_jwt])), moreAvailable: more };
        await deps.waiters.wait(row.id, Math.min(left, POLL_SLICE_MS), gone.signal);
        if (deps.waiters.closed) return { sets: {}, moreAvailable: false };
      }
    });
  });
}

function parse<S extends ZodType>(schema: S, input: unknown): z.output<S> {
  const r = schema.safeParse(input ?? {});
  if (!r.success)
    throw new SsfError(
      'invalid_request',
      r.error.issues.map((i) => `${i.path.length > 0 ? i.path.join('.') : '(body)'}: ${i.message}`).join('; '),
    );
  return r.data;
}

function hasBearer(req: FastifyRequest): boolean {
  return /^bearer \S/i.test(headerValues(req.raw.rawHeaders, 'authorization')[0] ?? '');
}

function tooManyFailures(retryAfterSeconds: number): SsfError {
  return new SsfError('too_many_requests', 'too many failed authentications from this address; retry later', {
    headers: { 'retry-after': String(retryAfterSeconds) },
  });
}

/**
 * `@writ/verify/express`: Writ's verifier as Express middleware. It sets `req.writ = { claims, jkt }` and calls
 * `next()`, or answers the denial exactly as Writ's gateway does (through the plain `node:http` response, so Express
 * adds nothing such as an ETag). Express is a peer: this module imports only its types.
 */
import type { RequestHandler } from 'express';
import type { VerifiedCall } from '../check/check-call.js';
import { adapterStep, type WritAdapterOptions } from '../middleware/adapter-options.js';

declare module 'express-serve-static-core' {
  interface Request {
    /** The verified call (set by `writExpress`). */
    writ?: VerifiedCall;
  }
}

export type WritExpressOptions = WritAdapterOptions;

/**
 * @example
 * const app = express();
 * app.use(writExpress({ verifier, publicUrl: 'https://billing.example' }));
 * app.get('/v1/invoices', (req, res) => res.json({ user: req.writ?.claims.sub }));
 */
export function writExpress(options: WritExpressOptions): RequestHandler {
  const step = adapterStep(options);
  return (req, res, next) => {
    // originalUrl: the target as the client sent it, whatever router the middleware is mounted on.
    step.run(req.method, req.originalUrl, req.rawHeaders).then(
      (r) => {
        if ('ok' in r) {
          req.writ = r.ok;
          next();
          return;
        }
        res.writeHead(r.deny.status, r.deny.headers);
        res.end(r.deny.body);
      },
      (err: unknown) => next(err),
    );
  };
}

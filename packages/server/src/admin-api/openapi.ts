/** The OpenAPI 3.1 document of the admin API, generated from the route table and its zod schemas. */
import { z } from 'zod';
import { PATHS } from '@writ/protocol';
import type { AdminRoute } from './routes.js';

export function buildOpenApi(routes: AdminRoute[], serverUrl: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const path = `${PATHS.admin}${r.url.replace(/:([a-zA-Z]+)/g, '{$1}')}`;
    const params = [...r.url.matchAll(/:([a-zA-Z]+)/g)].map((m) => ({
      name: m[1],
      in: 'path',
      required: true,
      schema: { type: 'string' },
    }));
    if (r.query !== undefined) {
      const schema = z.toJSONSchema(r.query, { io: 'input', unrepresentable: 'any' }) as {
        properties?: Record<string, unknown>;
        required?: string[];
      };
      for (const [name, s] of Object.entries(schema.properties ?? {}))
        params.push({ name, in: 'query', required: (schema.required ?? []).includes(name), schema: s as { type: string } });
    }
    const status = String(r.status ?? 200);
    paths[path] ??= {};
    paths[path][r.method.toLowerCase()] = {
      summary: r.summary,
      tags: [r.tag],
      ...(params.length > 0 ? { parameters: params } : {}),
      ...(r.body !== undefined
        ? {
            requestBody: {
              required: true,
              content: { 'application/json': { schema: z.toJSONSchema(r.body, { io: 'input', unrepresentable: 'any' }) } },
            },
          }
        : {}),
      responses: {
        [status]: {
          description: status === '204' ? 'done' : 'success',
          ...(status === '204' ? {} : { content: { 'application/json': { schema: {} } } }),
        },
        '400': { $ref: '#/components/responses/Error' },
        '401': { $ref: '#/components/responses/Error' },
        '404': { $ref: '#/components/responses/Error' },
      },
      security: [{ adminToken: [] }],
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Writ admin API',
      version: '1',
      description:
        'Register agents, identity providers, resources, secrets and grants; watch and stop tasks; query and verify the audit log.',
    },
    servers: [{ url: serverUrl }],
    paths,
    components: {
      securitySchemes: {
        adminToken: { type: 'http', scheme: 'bearer', description: 'An admin token (WRIT_ADMIN_TOKEN or one printed at first start).' },
      },
      responses: {
        Error: {
          description: 'An error with a stable code',
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['code', 'message'],
                properties: {
                  code: { type: 'string' },
                  message: { type: 'string' },
                  details: { type: 'array', items: { type: 'string' } },
                },
              },
            },
          },
        },
      },
    },
  };
}

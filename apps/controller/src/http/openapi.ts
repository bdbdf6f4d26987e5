import { z } from 'zod';
import { errorBodySchema } from '@caddyfleet/protocol';
import type { AnyEndpoint } from './api';

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  const out = z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'openapi-3.0' }) as Record<string, unknown>;
  delete out.$schema;
  return out;
}

const ERROR_RESPONSE = { description: 'error', content: { 'application/json': { schema: jsonSchema(errorBodySchema, 'output') } } };

/** Builds the OpenAPI 3 document from the same zod schemas that validate requests. */
export function buildOpenApi(endpoints: AnyEndpoint[], prefix: string, version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const ep of endpoints) {
    const path = (prefix + ep.url).replace(/:([A-Za-z]+)/g, '{$1}');
    const parameters: unknown[] = [];
    for (const [where, schema] of [['path', ep.params], ['query', ep.query]] as const) {
      if (!schema) continue;
      const js = jsonSchema(schema, 'input') as { properties?: Record<string, unknown>; required?: string[] };
      for (const [name, s] of Object.entries(js.properties ?? {})) {
        parameters.push({ name, in: where, required: where === 'path' || (js.required ?? []).includes(name), schema: s });
      }
    }
    const status = String(ep.status ?? 200);
    const op: Record<string, unknown> = {
      summary: ep.summary,
      tags: [ep.tag],
      operationId: `${ep.method.toLowerCase()}${path.replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+(.)/g, (_, c: string) => c.toUpperCase())}`,
      parameters,
      responses: {
        [status]:
          status === '204'
            ? { description: 'done' }
            : { description: 'success', content: { 'application/json': { schema: ep.response ? jsonSchema(ep.response, 'output') : {} } } },
        '4XX': ERROR_RESPONSE,
      },
    };
    if (ep.body) op.requestBody = { required: true, content: { 'application/json': { schema: jsonSchema(ep.body, 'input') } } };
    if (ep.access === 'read' || ep.access === 'write') op.security = [{ session: [] }, { bearer: [] }];
    (paths[path] ??= {})[ep.method.toLowerCase()] = op;
  }
  return {
    openapi: '3.0.3',
    info: { title: 'caddyfleet API', version },
    servers: [{ url: '/' }],
    paths,
    components: {
      securitySchemes: {
        session: { type: 'apiKey', in: 'cookie', name: 'cf_session' },
        bearer: { type: 'http', scheme: 'bearer' },
      },
    },
  };
}

import type { IncomingMessage } from 'node:http';
import { ApiError } from './errors.js';

export const MAX_BODY_BYTES = 1024 * 1024;

/** Reads a JSON object body, refusing oversized or malformed ones with a clear error. */
export async function readJsonObject(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) {
      throw new ApiError(413, 'body_too_large', `the request body is over ${MAX_BODY_BYTES} bytes; send a smaller JSON object`);
    }
    chunks.push(chunk as Buffer);
  }
  return parseJsonObject(Buffer.concat(chunks));
}

/** A whole body as a JSON object, or the same 400s as readJsonObject. */
export function parseJsonObject(body: Buffer): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    throw new ApiError(400, 'invalid_json', 'the request body is not valid JSON; send a JSON object');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ApiError(400, 'invalid_json', 'the request body must be a JSON object');
  }
  return value as Record<string, unknown>;
}

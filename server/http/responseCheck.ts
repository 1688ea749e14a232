// MCU_CHECK_RESPONSES=1: every JSON response is checked against /openapi.json as it leaves
// (its route's documented status, content type and schema; any error body against Problem),
// and a mismatch is logged as a warning (and appended to MCU_RESPONSE_MISMATCH_FILE when set).
// Off in production; the test runner turns it on for every test process and fails on a mismatch.

import fs from 'node:fs';
import type { NextFunction, Request, Response } from 'express';
import { openApiDocument } from '../../pipeline/api/openapi.ts';
import { validate } from '../../pipeline/api/validate.ts';
import type { Logger } from '../../workers/log.ts';

const JSON_TYPES = ['application/json', 'application/problem+json'];

export function responseCheck(log: Logger) {
  const doc = openApiDocument() as Record<string, any>;
  return (req: Request, res: Response, next: NextFunction): void => {
    const send = res.send.bind(res);
    res.send = ((body?: unknown) => {
      try {
        check(req, res, body);
      } catch (err) {
        log.warn({ err, method: req.method, url: req.path }, 'response check failed');
      }
      return send(body as any);
    }) as Response['send'];
    next();
  };

  function check(req: Request, res: Response, body: unknown): void {
    const type = String(res.get('content-type') ?? '').split(';')[0].trim();
    if (!JSON_TYPES.includes(type) || (typeof body !== 'string' && !Buffer.isBuffer(body))) return;
    const value = JSON.parse(String(body));
    const path = req.route?.path ? String(req.route.path).replace(/:(\w+)/g, '{$1}') : null;
    const op = path ? doc.paths[path]?.[req.method.toLowerCase()] : null;
    const documented = op?.responses?.[String(res.statusCode)]?.content?.[type]?.schema;
    const schema = documented ?? (res.statusCode >= 400 ? { $ref: '#/components/schemas/Problem' } : null);
    const problems: string[] = [];
    if (path && !documented) problems.push(`${res.statusCode} ${type} is not documented for ${req.method} ${path}`);
    if (schema) problems.push(...validate(value, schema, doc));
    if (!problems.length) return;
    const fields = { method: req.method, route: path ?? req.path, status: res.statusCode, problems: problems.slice(0, 5) };
    log.warn(fields, 'response does not match /openapi.json');
    // The test runner collects these from every test process and fails the run on any.
    const file = process.env.MCU_RESPONSE_MISMATCH_FILE;
    if (file) fs.appendFileSync(file, `${JSON.stringify(fields)}\n`);
  }
}

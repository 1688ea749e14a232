// A small JSON Schema checker for the subset the API document uses (type, enum, const,
// properties, required, additionalProperties: false, items, anyOf, allOf, minimum, maximum,
// pattern, maxLength, format date-time, local $ref), and a structural check of an OpenAPI 3.1
// document. Tests validate real responses with it; no dependency needed for that subset.

type Schema = Record<string, any>;

export function validate(value: unknown, schema: Schema, root: Schema, at = '$'): string[] {
  if (schema.$ref) return validate(value, resolveRef(root, schema.$ref), root, at);
  const errs: string[] = [];
  if (schema.type !== undefined) {
    const types: string[] = Array.isArray(schema.type) ? schema.type : [schema.type];
    if (!types.some((t) => isType(value, t))) return [`${at}: expected ${types.join('|')}, got ${JSON.stringify(value)?.slice(0, 60)}`];
  }
  if (schema.enum && !schema.enum.some((e: unknown) => e === value)) errs.push(`${at}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  if ('const' in schema && schema.const !== value) errs.push(`${at}: expected ${JSON.stringify(schema.const)}`);
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) errs.push(`${at}: below ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum) errs.push(`${at}: above ${schema.maximum}`);
  }
  if (typeof value === 'string') {
    if (schema.pattern && !new RegExp(schema.pattern, 'u').test(value)) errs.push(`${at}: does not match ${schema.pattern}`);
    if (schema.maxLength !== undefined && value.length > schema.maxLength) errs.push(`${at}: longer than ${schema.maxLength}`);
    if (schema.format === 'date-time' && Number.isNaN(Date.parse(value))) errs.push(`${at}: not a date-time`);
  }
  if (isType(value, 'object')) {
    const v = value as Record<string, unknown>;
    for (const k of schema.required ?? []) if (!(k in v)) errs.push(`${at}: missing "${k}"`);
    for (const [k, s] of Object.entries(schema.properties ?? {})) if (k in v) errs.push(...validate(v[k], s as Schema, root, `${at}.${k}`));
    if (schema.additionalProperties === false) {
      for (const k of Object.keys(v)) if (!(k in (schema.properties ?? {}))) errs.push(`${at}: unexpected "${k}"`);
    }
  }
  if (Array.isArray(value) && schema.items) value.forEach((item, i) => errs.push(...validate(item, schema.items, root, `${at}[${i}]`)));
  if (schema.anyOf && !schema.anyOf.some((s: Schema) => validate(value, s, root, at).length === 0)) {
    errs.push(`${at}: matches none of anyOf (${schema.anyOf.map((s: Schema) => validate(value, s, root, at)[0]).join('; ')})`);
  }
  for (const s of schema.allOf ?? []) errs.push(...validate(value, s, root, at));
  return errs;
}

function isType(v: unknown, t: string): boolean {
  switch (t) {
    case 'null':
      return v === null;
    case 'array':
      return Array.isArray(v);
    case 'object':
      return typeof v === 'object' && v !== null && !Array.isArray(v);
    case 'integer':
      return Number.isInteger(v);
    default:
      return typeof v === t;
  }
}

export function resolveRef(root: Schema, ref: string): Schema {
  if (!ref.startsWith('#/')) throw new Error(`only local $refs are supported: ${ref}`);
  let node: any = root;
  for (const part of ref.slice(2).split('/')) {
    node = node?.[part.replace(/~1/g, '/').replace(/~0/g, '~')];
    if (node === undefined) throw new Error(`unresolved $ref ${ref}`);
  }
  return node;
}

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/** Structural problems of an OpenAPI 3.1 document (empty: none found). */
export function checkOpenApi(doc: Schema): string[] {
  const errs: string[] = [];
  if (!/^3\.1\.\d+$/.test(String(doc.openapi))) errs.push('openapi must be 3.1.x');
  if (typeof doc.info?.title !== 'string' || typeof doc.info?.version !== 'string') errs.push('info.title and info.version are required');
  if (!doc.paths || typeof doc.paths !== 'object') return [...errs, 'paths is required'];
  const opIds = new Set<string>();
  for (const [path, item] of Object.entries<any>(doc.paths)) {
    if (!path.startsWith('/')) errs.push(`${path}: paths start with /`);
    const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
    for (const [key, op] of Object.entries<any>(item)) {
      if (key === 'parameters' || key === 'summary' || key === 'description') continue;
      if (!METHODS.includes(key)) {
        errs.push(`${path}: unknown key "${key}"`);
        continue;
      }
      const where = `${key.toUpperCase()} ${path}`;
      if (!op.responses || !Object.keys(op.responses).length) errs.push(`${where}: no responses`);
      for (const [code, r] of Object.entries<any>(op.responses ?? {})) {
        if (!/^([1-5]\d\d|[1-5]XX|default)$/.test(code)) errs.push(`${where}: bad response key ${code}`);
        if (typeof r.description !== 'string') errs.push(`${where} ${code}: a response needs a description`);
      }
      const params = [...(item.parameters ?? []), ...(op.parameters ?? [])];
      for (const p of params) {
        if (!p.name || !['path', 'query', 'header', 'cookie'].includes(p.in)) errs.push(`${where}: a parameter needs name and in`);
        if (p.in === 'path' && p.required !== true) errs.push(`${where}: path parameter ${p.name} must be required`);
      }
      for (const name of templated) if (!params.some((p: any) => p.in === 'path' && p.name === name)) errs.push(`${where}: {${name}} is not declared`);
      if (op.operationId) {
        if (opIds.has(op.operationId)) errs.push(`${where}: duplicate operationId`);
        opIds.add(op.operationId);
      }
    }
  }
  // Every $ref resolves.
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (!node || typeof node !== 'object') return;
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref') {
        try {
          resolveRef(doc, String(v));
        } catch (err) {
          errs.push((err as Error).message);
        }
      } else walk(v);
    }
  };
  walk(doc);
  return errs;
}

/** The schema of a documented response, or null when the document has none for it. */
export function responseSchema(doc: Schema, method: string, path: string, status: number, contentType: string): Schema | null {
  const op = doc.paths?.[path]?.[method.toLowerCase()];
  const r = op?.responses?.[String(status)];
  return r?.content?.[contentType]?.schema ?? null;
}

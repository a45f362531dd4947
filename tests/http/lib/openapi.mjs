// Validates every HTTP exchange of the tests against the project's OpenAPI
// document (<repo>/openapi.json): the operation must exist, the status code
// must be documented for it, and a JSON body must match the documented
// schema. Schemas are compiled with Ajv (JSON Schema 2020-12, which is
// OpenAPI 3.1's dialect) and ajv-formats; $ref into components is resolved
// by registering the document's components under one base URI.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const OPENAPI_PATH = process.env.BOOKD_OPENAPI || path.join(REPO_ROOT, 'openapi.json');

const BASE = 'https://bookd.invalid/openapi.json';
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

function clone(v) {
  return v === undefined ? undefined : JSON.parse(JSON.stringify(v));
}

/** OpenAPI 3.0 schemas → JSON Schema (nullable, boolean exclusive bounds). 3.1 is used as is. */
function convert30(schema) {
  if (Array.isArray(schema)) return schema.map(convert30);
  if (!schema || typeof schema !== 'object') return schema;
  const out = {};
  for (const [k, v] of Object.entries(schema)) out[k] = convert30(v);
  if (out.nullable === true) {
    delete out.nullable;
    if (out.$ref) return { anyOf: [{ $ref: out.$ref }, { type: 'null' }] };
    if (typeof out.type === 'string') out.type = [out.type, 'null'];
    if (Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...out.enum, null];
  }
  if (out.exclusiveMinimum === true && typeof out.minimum === 'number') {
    out.exclusiveMinimum = out.minimum;
    delete out.minimum;
  } else if (out.exclusiveMinimum === false) delete out.exclusiveMinimum;
  if (out.exclusiveMaximum === true && typeof out.maximum === 'number') {
    out.exclusiveMaximum = out.maximum;
    delete out.maximum;
  } else if (out.exclusiveMaximum === false) delete out.exclusiveMaximum;
  return out;
}

/** Rewrites local refs ('#/...') of a schema lifted out of the document to the base URI. */
function absolutizeRefs(node) {
  if (Array.isArray(node)) return node.map(absolutizeRefs);
  if (!node || typeof node !== 'object') return node;
  const out = {};
  for (const [k, v] of Object.entries(node)) {
    out[k] = k === '$ref' && typeof v === 'string' && v.startsWith('#') ? BASE + v : absolutizeRefs(v);
  }
  return out;
}

function mediaTypeOf(contentType) {
  return (contentType || '').split(';')[0].trim().toLowerCase();
}

function isJsonMedia(mt) {
  return mt === 'application/json' || /^application\/[a-z0-9.+-]*\+json$/.test(mt);
}

function templateRegex(template) {
  const parts = template.split(/(\{[^}]+\})/).map((p) =>
    p.startsWith('{') ? '([^/]+)' : p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
  );
  return new RegExp(`^${parts.join('')}$`);
}

class Spec {
  constructor(doc) {
    this.doc = doc;
    this.is30 = typeof doc.openapi === 'string' && doc.openapi.startsWith('3.0');
    this.ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false, logger: false });
    addFormats(this.ajv);
    for (const f of ['int32', 'int64', 'float', 'double', 'byte', 'binary', 'password']) {
      this.ajv.addFormat(f, true);
    }
    const components = this.is30 ? convert30(clone(doc.components || {})) : clone(doc.components || {});
    this.ajv.addSchema({ $id: BASE, components });
    this.cache = new Map();
    this.templates = Object.keys(doc.paths || {})
      .map((t) => ({
        template: t,
        regex: templateRegex(t),
        params: (t.match(/\{/g) || []).length,
        literal: t.replace(/\{[^}]+\}/g, '').length,
      }))
      .sort((a, b) => a.params - b.params || b.literal - a.literal);
  }

  /** Follows $ref chains inside the document (components.responses, headers, ...). */
  deref(obj) {
    let guard = 0;
    while (obj && typeof obj === 'object' && typeof obj.$ref === 'string' && guard++ < 20) {
      if (!obj.$ref.startsWith('#/')) return obj;
      let cur = this.doc;
      for (const raw of obj.$ref.slice(2).split('/')) {
        const key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
        cur = cur == null ? undefined : cur[key];
      }
      obj = cur;
    }
    return obj;
  }

  findPath(pathname) {
    for (const t of this.templates) if (t.regex.test(pathname)) return t.template;
    return null;
  }

  validator(cacheKey, schema) {
    let v = this.cache.get(cacheKey);
    if (!v) {
      const s = absolutizeRefs(this.is30 ? convert30(clone(schema)) : clone(schema));
      try {
        v = this.ajv.compile(s);
      } catch (e) {
        v = { compileError: `schema for ${cacheKey} does not compile: ${e.message}` };
      }
      this.cache.set(cacheKey, v);
    }
    return v;
  }

  /**
   * Checks one documented response object against what came back; pushes problems.
   * An answer to HEAD never has a body (RFC 9110, 9.3.2): its status and headers are
   * checked, and that no body came.
   */
  checkResponse(problems, cacheKey, responseObj, res, head = false) {
    const resp = this.deref(responseObj);
    if (!resp || typeof resp !== 'object') {
      problems.push(`response object for ${cacheKey} cannot be resolved`);
      return;
    }
    for (const [name, hdrRaw] of Object.entries(resp.headers || {})) {
      const hdr = this.deref(hdrRaw);
      if (hdr && hdr.required === true && res.headers[name.toLowerCase()] === undefined) {
        problems.push(`required response header ${name} is missing`);
      }
    }
    const content = resp.content || {};
    const documented = Object.keys(content);
    const mt = mediaTypeOf(res.headers['content-type']);
    const hasBody = res.rawBuffer.length > 0;
    if (head) {
      if (hasBody) problems.push('an answer to HEAD has a body');
      return;
    }
    if (documented.length === 0) {
      if (hasBody) problems.push(`a body (${mt || 'no content-type'}) was sent but none is documented`);
      return;
    }
    if (!hasBody) {
      problems.push(`the documented body (${documented.join(', ')}) is missing`);
      return;
    }
    let key = documented.find((d) => d.toLowerCase() === mt);
    if (!key) {
      key = documented.find((d) => {
        const [a, b] = d.toLowerCase().split('/');
        const [x] = mt.split('/');
        return (a === '*' && b === '*') || (a === x && b === '*');
      });
    }
    if (!key) {
      problems.push(`content-type ${JSON.stringify(res.headers['content-type'])} is not documented (${documented.join(', ')})`);
      return;
    }
    const media = content[key] || {};
    if (!isJsonMedia(mt)) return;
    if (res.jsonError) {
      problems.push(`body is not valid JSON: ${res.jsonError}`);
      return;
    }
    if (!media.schema) return;
    const v = this.validator(`${cacheKey} ${key}`, media.schema);
    if (v.compileError) {
      problems.push(v.compileError);
      return;
    }
    if (!v(res.body)) {
      const errs = v.errors
        .slice(0, 8)
        .map((e) => `${e.instancePath || '(root)'} ${e.message}${e.params && Object.keys(e.params).length ? ' ' + JSON.stringify(e.params) : ''}`);
      problems.push(`body does not match the schema: ${errs.join('; ')}`);
    }
  }

  /** Returns a list of problems (empty when the exchange matches the document). */
  check(method, pathname, res) {
    const problems = [];
    const m = method.toLowerCase();
    const head = m === 'head';
    const template = this.findPath(pathname);
    if (!template) {
      // Unknown route: must be 404 with the error body.
      if (res.status !== 404) problems.push(`undocumented path answered ${res.status}; an unknown route must be 404`);
      if (head && res.rawBuffer.length > 0) problems.push('an answer to HEAD has a body');
      else if (!head) this.checkErrorShape(problems, res, 'not_found');
      return problems;
    }
    const item = this.deref(this.doc.paths[template]) || {};
    const op = item[m];
    if (!op) {
      if (res.status !== 405) problems.push(`${method} is not documented on ${template}; expected 405, got ${res.status}`);
      if (!res.headers.allow) problems.push('a 405 needs an Allow header');
      // Validate against a documented 405 of a sibling operation if there is one.
      const sibling = METHODS.map((x) => item[x]).find((o) => o && o.responses && o.responses['405']);
      if (sibling && res.status === 405) this.checkResponse(problems, `${template} * 405`, sibling.responses['405'], res, head);
      else if (head && res.rawBuffer.length > 0) problems.push('an answer to HEAD has a body');
      else if (!head) this.checkErrorShape(problems, res, 'method_not_allowed');
      return problems;
    }
    const responses = op.responses || {};
    const s = String(res.status);
    const statusKey = [s, `${s[0]}XX`, `${s[0]}xx`, 'default'].find((k) => responses[k] !== undefined);
    if (!statusKey) {
      problems.push(`status ${s} is not documented for ${method.toUpperCase()} ${template} (documented: ${Object.keys(responses).join(', ')})`);
      return problems;
    }
    this.checkResponse(problems, `${method.toUpperCase()} ${template} ${statusKey}`, responses[statusKey], res, head);
    return problems;
  }

  checkErrorShape(problems, res, code) {
    const b = res.body;
    if (!b || typeof b !== 'object' || Array.isArray(b)) {
      problems.push(`expected an error body {"error":"${code}","message":...}, got ${JSON.stringify(res.raw.slice(0, 200))}`);
      return;
    }
    if (b.error !== code) problems.push(`error code ${JSON.stringify(b.error)} instead of ${code}`);
    if (typeof b.message !== 'string' || b.message.length === 0) problems.push('error body without a message');
    const schema = this.doc.components && this.doc.components.schemas && this.doc.components.schemas.Error;
    if (schema) {
      const v = this.validator('components Error', { $ref: '#/components/schemas/Error' });
      if (v.compileError) problems.push(v.compileError);
      else if (!v(b)) problems.push(`error body does not match components.schemas.Error: ${this.ajv.errorsText(v.errors)}`);
    }
  }
}

let loaded = null;

/** The parsed document, or {error} when it is missing or broken (read once per process). */
export function loadSpec() {
  if (loaded) return loaded;
  try {
    const doc = JSON.parse(fs.readFileSync(OPENAPI_PATH, 'utf8'));
    if (!doc || typeof doc !== 'object' || !doc.paths) throw new Error('no "paths" object');
    loaded = { spec: new Spec(doc), doc };
  } catch (e) {
    loaded = { error: `cannot use ${OPENAPI_PATH}: ${e.message}` };
  }
  return loaded;
}

/** Problems of one exchange; a missing/broken document is itself a problem. */
export function checkExchange(method, pathname, res) {
  const l = loadSpec();
  if (l.error) return [l.error];
  return l.spec.check(method, pathname, res);
}

/**
 * Problems of `value` against components.schemas[name] of the document
 * (e.g. a webhook body against WebhookEvent); [] when it matches.
 */
export function schemaProblems(name, value) {
  const l = loadSpec();
  if (l.error) return [l.error];
  const schemas = (l.doc.components && l.doc.components.schemas) || {};
  if (!schemas[name]) return [`components.schemas.${name} is not in openapi.json`];
  const v = l.spec.validator(`components ${name}`, { $ref: `#/components/schemas/${name}` });
  if (v.compileError) return [v.compileError];
  if (v(value)) return [];
  return v.errors.slice(0, 8).map((e) => `${e.instancePath || '(root)'} ${e.message}${e.params && Object.keys(e.params).length ? ' ' + JSON.stringify(e.params) : ''}`);
}

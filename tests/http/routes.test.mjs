// The route table (src/api/routes.c) and openapi.json name the same
// operations: nothing documented that bookd does not serve, nothing served
// that is not documented. HEAD is documented wherever GET is, as the router
// answers it there.

import fs from 'node:fs';
import path from 'node:path';
import { assert, ctest } from './lib/harness.mjs';
import { REPO_ROOT } from './lib/openapi.mjs';

const routes = fs.readFileSync(path.join(REPO_ROOT, 'src/api/routes.c'), 'utf8');
const served = new Set();
for (const [, method, pattern] of routes.matchAll(/\{HTTP_([A-Z]+), "([^"]+)"/g)) {
  served.add(`${method} ${pattern}`);
  if (method === 'GET') served.add(`HEAD ${pattern}`);
}
const doc = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'openapi.json'), 'utf8'));
const documented = new Set();
for (const [p, item] of Object.entries(doc.paths)) {
  for (const m of Object.keys(item)) if (['get', 'head', 'post', 'put', 'patch', 'delete'].includes(m)) documented.add(`${m.toUpperCase()} ${p}`);
}

ctest('every documented operation has a route', () => {
  assert.ok(served.size > 10, `routes read from src/api/routes.c: ${served.size}`);
  assert.deepEqual([...documented].filter((o) => !served.has(o)), [], 'documented in openapi.json but not served');
});

ctest('every route is documented', () => {
  assert.deepEqual([...served].filter((o) => !documented.has(o)), [], 'served but not in openapi.json');
});

import { APIRequestContext, Page, expect, test as base } from '@playwright/test';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

/**
 * The test runner with the browser console attached: every console message
 * and uncaught page error of a failing test is printed with it, so a page
 * that does not hydrate says why.
 */
export const test = base.extend<{ consoleLog: string[] }>({
  consoleLog: [async ({ page }, use, testInfo) => {
    const log: string[] = [];
    page.on('console', (m) => log.push(`[${m.type()}] ${m.text()}`));
    page.on('pageerror', (e) => log.push(`[pageerror] ${e.message}\n${e.stack ?? ''}`));
    page.on('requestfailed', (r) => log.push(`[requestfailed] ${r.method()} ${r.url()} ${r.failure()?.errorText}`));
    await use(log);
    if (testInfo.status !== testInfo.expectedStatus) {
      console.log(`--- browser console of "${testInfo.title}" ---\n${log.join('\n')}`);
    }
  }, { auto: true }],
});
export { expect };

export const ADMIN = { username: 'admin', password: 'demo-admin-password' };

export async function login(page: Page, username: string, password: string) {
  await page.goto('/login');
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page).not.toHaveURL(/\/login/);
}

/** Waits until the wasm has hydrated the page (keys work only then). */
export async function hydrated(page: Page) {
  await page.waitForFunction(() => (window as any).__arbiter_hydrated === true, null, { timeout: 30_000 });
}

let counter = 0;
export function unique(prefix: string) {
  counter += 1;
  return `${prefix}-${Date.now().toString(36)}-${counter}`;
}

export type Item = { id: string; prompt?: string; messages?: { role: string; content: string }[]; completions: { model: string; text: string }[] };

/**
 * As the demo admin, through the REST API and the admin forms: a project with
 * these items and a new annotator who is a member. Returns the admin's request
 * context (for exports) and the annotator's login.
 */
export async function setup(request: APIRequestContext, items: Item[], perPair = 1, settings: Record<string, unknown> = {}) {
  const slug = unique('e2e');
  const annotator = { username: unique('ann'), password: 'annotator-password-long' };
  const r = await request.post('/login', { form: ADMIN, maxRedirects: 0 });
  expect(r.status()).toBe(303);
  const created = await request.post('/api/v1/projects', { data: { slug, title: `E2E ${slug}`, annotations_per_pair: perPair, ...settings } });
  expect(created.status()).toBe(201);
  const jsonl = items.map((i) => JSON.stringify(i)).join('\n') + '\n';
  const imported = await request.post(`/api/v1/projects/${slug}/import`, { data: jsonl, headers: { 'content-type': 'application/jsonl' } });
  expect(imported.status(), await imported.text()).toBe(200);
  const user = await request.post('/admin/users', { form: { ...annotator, role: 'annotator', project: slug }, maxRedirects: 0 });
  expect(user.headers()['location']).toContain('ok=');
  return { slug, annotator };
}

export async function exportTrl(request: APIRequestContext, slug: string) {
  const r = await request.get(`/api/v1/projects/${slug}/export?format=trl`);
  expect(r.status()).toBe(200);
  return (await r.text()).trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

export function plainItems(n: number, tag: string): Item[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `${tag}-${i}`,
    prompt: `Prompt ${tag} ${i}`,
    completions: [
      { model: 'alpha', text: `Alpha says ${tag} ${i}` },
      { model: 'beta', text: `Beta says ${tag} ${i}` },
    ],
  }));
}

/**
 * Loads an export the way trainers do (pyarrow's JSON reader and
 * `datasets.load_dataset("json")`, from the venv scripts/python-env.sh makes)
 * and fails unless every column is typed in the given form.
 */
export function checkExport(jsonl: string, form: 'standard' | 'conversational') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'arbiter-export-'));
  const file = path.join(dir, 'export.jsonl');
  fs.writeFileSync(file, jsonl);
  const venv = execFileSync('bash', ['../scripts/python-env.sh'], { encoding: 'utf-8' }).trim();
  execFileSync(`${venv}/bin/python`, ['../scripts/check_export.py', file, form], {
    encoding: 'utf-8',
    env: { ...process.env, HF_DATASETS_CACHE: path.join(dir, 'hf'), HF_HUB_OFFLINE: '1' },
  });
}

import { exportTrl, hydrated, login, plainItems, setup, test, expect } from './helpers';
import { Page, Route } from '@playwright/test';

/**
 * Sends the page's submits through `answer(n, route)` (n counts from 1) and
 * records the client key each carried.
 */
async function routeSubmits(page: Page, answer: (n: number, route: Route) => Promise<void>) {
  const keys: string[] = [];
  await page.route('**/sfn/submit_and_next*', async (route) => {
    keys.push(JSON.parse(route.request().postData() || '{}').client_key);
    await answer(keys.length, route);
  });
  return keys;
}

test('a submit that loses the network is retried with its key and stored once', async ({ page, request }) => {
  const { slug, annotator } = await setup(request, plainItems(2, 'net'));
  await login(page, annotator.username, annotator.password);
  await page.goto(`/annotate/${slug}`);
  await hydrated(page);
  const left = (await page.locator('[data-side=left] .md').innerText()).trim();

  // 1st send reaches the server but its answer is lost; 2nd never leaves; 3rd goes through.
  const keys = await routeSubmits(page, async (n, route) => {
    if (n === 1) {
      await route.fetch();
      await route.abort('failed');
    } else if (n === 2) {
      await route.abort('internetdisconnected');
    } else {
      await route.continue();
    }
  });

  await page.keyboard.press('2');
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('save-status')).toContainText('retrying');
  // The draft waits in local storage while the server has not answered.
  expect(await page.evaluate((s) => localStorage.getItem(`arbiter.outbox.${s}`), slug)).toContain(keys[0]);
  await expect(page.getByTestId('save-status')).toHaveText('Saved ✓', { timeout: 15_000 });
  await expect(page.getByTestId('progress')).toHaveText('1 done · 1 to go');
  expect(keys.length).toBeGreaterThanOrEqual(3);
  expect(new Set(keys).size).toBe(1); // every retry carried the same key
  expect(await page.evaluate((s) => localStorage.getItem(`arbiter.outbox.${s}`), slug)).toBeNull();

  const progress = await (await request.get(`/api/v1/projects/${slug}/progress`)).json();
  expect(progress.annotations).toBe(1);
  const rows = await exportTrl(request, slug);
  expect(rows).toHaveLength(1);
  expect(rows[0].chosen).toBe(left);
});

test("a submit answered by a proxy's 502 or the server's 503 is sent again and stored once", async ({ page, request }) => {
  const { slug, annotator } = await setup(request, plainItems(2, 'away'));
  await login(page, annotator.username, annotator.password);
  await page.goto(`/annotate/${slug}`);
  await hydrated(page);
  const right = (await page.locator('[data-side=right] .md').innerText()).trim();

  // 1st send is stored, but a proxy answers for the lost instance; 2nd gets
  // Arbiter's own 503 (its database away for a moment); 3rd goes through.
  const keys = await routeSubmits(page, async (n, route) => {
    if (n === 1) {
      await route.fetch();
      await route.fulfill({ status: 502, contentType: 'text/html', body: '<html><body>502 Bad Gateway</body></html>' });
    } else if (n === 2) {
      // The body of a server function's 503 (api::ctx::fail; a unit test asserts these bytes).
      await route.fulfill({ status: 503, contentType: 'text/plain', body: 'Response|the database is unavailable for a moment; try again' });
    } else {
      await route.continue();
    }
  });

  await page.keyboard.press('7');
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('save-status')).toContainText('retrying');
  await expect(page.getByTestId('save-status')).toHaveText('Saved ✓', { timeout: 15_000 });
  await expect(page.getByTestId('progress')).toHaveText('1 done · 1 to go');
  expect(keys.length).toBeGreaterThanOrEqual(3);
  expect(new Set(keys).size).toBe(1);
  const progress = await (await request.get(`/api/v1/projects/${slug}/progress`)).json();
  expect(progress.annotations).toBe(1);
  const rows = await exportTrl(request, slug);
  expect(rows).toHaveLength(1);
  expect(rows[0].chosen).toBe(right);
});

test('a draft left by a closed tab is sent when the page opens again', async ({ page, request }) => {
  const { slug, annotator } = await setup(request, plainItems(2, 'draft'));
  await login(page, annotator.username, annotator.password);
  await page.goto(`/annotate/${slug}`);
  await hydrated(page);
  const right = (await page.locator('[data-side=right] .md').innerText()).trim();
  await page.route('**/sfn/submit_and_next*', (route) => route.abort('internetdisconnected'));
  await page.keyboard.press('7');
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('save-status')).toContainText('retrying');
  // The tab goes away with the judgement unsent; the annotator comes back later.
  await page.unrouteAll({ behavior: 'ignoreErrors' });
  await page.goto('about:blank');
  await page.goto(`/annotate/${slug}`);
  await hydrated(page);
  await expect(page.getByTestId('progress')).toHaveText('1 done · 1 to go');
  const rows = await exportTrl(request, slug);
  expect(rows).toHaveLength(1);
  expect(rows[0].chosen).toBe(right);
});

test('the next pair shows at once: it was prefetched, the answer is saved meanwhile', async ({ page, request }) => {
  const { slug, annotator } = await setup(request, plainItems(3, 'ahead'));
  await login(page, annotator.username, annotator.password);
  // The prefetched second lease is taken as soon as the page is live.
  const prefetched = page.waitForResponse((r) => r.url().includes('/sfn/prefetch_task'));
  await page.goto(`/annotate/${slug}`);
  await hydrated(page);
  expect((await prefetched).status()).toBe(200);
  const first = (await page.locator('[data-side=left] .md').innerText()).trim();
  // The server's answer to the submit is held back 1.5 s …
  await page.route('**/sfn/submit_and_next*', async (route) => {
    const response = await route.fetch();
    await new Promise((r) => setTimeout(r, 1500));
    await route.fulfill({ response });
  });
  const pressed = Date.now();
  await page.keyboard.press('1');
  await page.keyboard.press('Enter');
  // … yet the next pair is on screen long before that.
  await expect(page.locator('[data-side=left] .md')).not.toHaveText(first, { timeout: 700 });
  expect(Date.now() - pressed).toBeLessThan(1000);
  await expect(page.getByTestId('save-status')).toHaveText('Saving…');
  await expect(page.getByTestId('save-status')).toHaveText('Saved ✓', { timeout: 5000 });
  await expect(page.getByTestId('progress')).toHaveText('1 done · 2 to go');
  const progress = await (await request.get(`/api/v1/projects/${slug}/progress`)).json();
  expect(progress.annotations).toBe(1);
});

import { ADMIN, hydrated, login, plainItems, setup, test, expect } from './helpers';

test("annotator pages load the annotator's bundle, admin pages the full one, and links go between them", async ({ page, request }) => {
  const { slug, annotator } = await setup(request, plainItems(1, 'bundle'));
  const wasm: string[] = [];
  page.on('request', (r) => {
    if (r.url().endsWith('.wasm')) wasm.push(new URL(r.url()).pathname);
  });

  // An annotator never downloads the admin pages' code.
  await login(page, annotator.username, annotator.password);
  await page.goto(`/annotate/${slug}`);
  await hydrated(page);
  expect(new Set(wasm)).toEqual(new Set(['/pkg/arbiter-annotator.wasm']));

  // An admin on the home page (the annotator's bundle) follows a link to an
  // admin page, which that bundle does not have: the page comes from the
  // server with the full bundle, once, and hydrates.
  await page.context().clearCookies();
  wasm.length = 0;
  await login(page, ADMIN.username, ADMIN.password);
  await page.goto('/');
  await hydrated(page);
  expect(new Set(wasm)).toEqual(new Set(['/pkg/arbiter-annotator.wasm']));
  const full = page.waitForResponse((r) => r.url().endsWith('/pkg/arbiter.wasm'));
  await page.locator('header nav').getByRole('link', { name: 'Users' }).click();
  expect((await full).status()).toBe(200);
  await expect(page).toHaveURL(/\/admin\/users$/);
  await hydrated(page);
  await expect(page.getByRole('heading', { level: 1 })).toBeVisible();
  // Within the full bundle, admin pages link to each other without a reload
  // (a reload would clear the mark).
  await page.evaluate(() => ((window as any).__same_page = true));
  await page.locator('header nav').getByRole('link', { name: 'Audit' }).click();
  await expect(page).toHaveURL(/\/admin\/audit$/);
  await expect(page.getByRole('heading', { level: 1 })).toBeVisible();
  expect(await page.evaluate(() => (window as any).__same_page)).toBe(true);
  expect(wasm.filter((w) => w === '/pkg/arbiter.wasm')).toHaveLength(1);

  // Back leaves the admin pages in as many steps as were taken: Audit → Users → home.
  await page.goBack();
  await expect(page).toHaveURL(/\/admin\/users$/);
  await page.goBack();
  await expect(page).toHaveURL(/\/$/);
  await hydrated(page);
  // A link with a query and a hash keeps both across the hop.
  await page.evaluate(() => {
    const a = document.createElement('a');
    a.href = '/admin/audit?page=1#top';
    a.textContent = 'audit with a query';
    document.querySelector('main')!.append(a);
  });
  const loaded = page.waitForEvent('load'); // the server's page, not the router's address
  await page.getByRole('link', { name: 'audit with a query' }).click();
  await loaded;
  await expect(page).toHaveURL(/\/admin\/audit\?page=1#top$/);
  await hydrated(page);

  // A navigation made by code (not a link) to an admin page: the annotator's
  // bundle's fallback loads it from the server.
  await page.goto('/');
  await hydrated(page);
  const hop = page.waitForEvent('load');
  await page.evaluate(() => {
    history.pushState({}, '', '/admin/users');
    window.dispatchEvent(new PopStateEvent('popstate'));
  });
  await hop;
  await expect(page).toHaveURL(/\/admin\/users$/);
  await hydrated(page);
  await expect(page.getByRole('heading', { level: 1 })).toBeVisible();
});

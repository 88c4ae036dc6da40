import { ADMIN, login, plainItems, setup, unique, test, expect } from './helpers';

test('invite → set password → log in → see only the invited project', async ({ page, browser, request }) => {
  const invited = await setup(request, plainItems(1, 'inv'));
  await setup(request, plainItems(1, 'other')); // a second project the invitee must not see
  await login(page, ADMIN.username, ADMIN.password);
  await page.goto('/admin/users');
  await page.getByRole('checkbox', { name: invited.slug, exact: true }).check();
  await page.getByRole('button', { name: 'Create invite link' }).click();
  const link = (await page.getByTestId('new-link').locator('code').innerText()).trim();
  expect(link).toMatch(/\/invite\/[A-Za-z0-9_-]{40,}$/);
  await page.reload();
  await expect(page.getByTestId('new-link')).toHaveCount(0); // shown once

  const guest = await browser.newContext();
  const p = await guest.newPage();
  await p.goto(new URL(link).pathname);
  await expect(p.getByText(`You are invited as annotator to ${invited.slug}.`)).toBeVisible();
  const name = unique('invitee');
  await p.getByLabel('Choose a username').fill(name);
  await p.getByLabel('Password (12+ characters)').fill('invitee-password-long');
  await p.getByRole('button', { name: 'Create account' }).click();
  await expect(p).toHaveURL(/\/$/);
  const cards = p.locator('.card a');
  await expect(cards).toHaveCount(1);
  await expect(cards).toHaveText(`E2E ${invited.slug}`);

  // A second use of the link is refused.
  const again = await browser.newContext();
  const q = await again.newPage();
  await q.goto(new URL(link).pathname);
  await expect(q.getByText('This link is used, expired or unknown')).toBeVisible();
  await guest.close();
  await again.close();
});

test('a form on another site cannot post with the session', async ({ page, request }) => {
  await login(page, ADMIN.username, ADMIN.password);
  const slug = unique('csrf');
  const target = new URL('/admin/projects', page.url()).toString();
  // A page from another origin (127.0.0.2 is not 127.0.0.1) that auto-submits a form.
  await page.route('http://127.0.0.2:9/evil', (route) =>
    route.fulfill({
      contentType: 'text/html',
      body: `<form id=f method=post action="${target}"><input name=slug value="${slug}"><input name=title value=evil></form>
             <script>document.getElementById('f').submit()</script>`,
    }),
  );
  const answer = page.waitForResponse((r) => r.url() === target);
  await page.goto('http://127.0.0.2:9/evil');
  expect((await answer).status()).toBe(403);
  await request.post('/login', { form: ADMIN, maxRedirects: 0 });
  const created = await request.get(`/api/v1/projects/${slug}/progress`);
  expect(created.status()).toBe(404);
});

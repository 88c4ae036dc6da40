import AxeBuilder from '@axe-core/playwright';
import { Page } from '@playwright/test';
import { ADMIN, hydrated, login, plainItems, setup, test, expect } from './helpers';

/** axe-core on the page as it is: no serious or critical violation. */
async function accessible(page: Page, what: string) {
  const result = await new AxeBuilder({ page }).analyze();
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  const said = bad.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
  expect(said, `${what}: ${said.join('\n')}`).toEqual([]);
}

test('the login, home, annotator and history pages have no serious accessibility violations', async ({ page, request }) => {
  await page.goto('/login');
  await accessible(page, 'login');
  const { slug, annotator } = await setup(request, plainItems(2, 'a11y'), 1);
  await login(page, annotator.username, annotator.password);
  await accessible(page, 'home');
  await page.goto(`/annotate/${slug}`);
  await hydrated(page);
  await accessible(page, 'annotator (pairwise)');
  await page.keyboard.press('2');
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('save-status')).toHaveText('Saved ✓');
  await page.goto(`/annotate/${slug}/history`);
  await accessible(page, 'history');
});

test('ranking and rating pages have no serious accessibility violations', async ({ page, request }) => {
  const items = [{ id: 'r1', prompt: 'Rank these', completions: [1, 2, 3].map((q) => ({ model: `m${q}`, text: `answer ${q}` })) }];
  const ranking = await setup(request, items, 1, { task_type: 'ranking' });
  await login(page, ranking.annotator.username, ranking.annotator.password);
  await page.goto(`/annotate/${ranking.slug}`);
  await hydrated(page);
  await accessible(page, 'annotator (ranking)');
  const rating = await setup(request, items, 1, { task_type: 'rating', aspects: ['helpfulness', 'honesty'], scale: '1-5' });
  await login(page, rating.annotator.username, rating.annotator.password);
  await page.goto(`/annotate/${rating.slug}`);
  await hydrated(page);
  await accessible(page, 'annotator (rating)');
});

test('the admin pages have no serious accessibility violations', async ({ page, request }) => {
  const { slug } = await setup(request, plainItems(1, 'a11y-admin'), 1);
  await login(page, ADMIN.username, ADMIN.password);
  // The leaderboard with its charts: the demo project has judgements.
  for (const path of ['/admin', `/admin/projects/${slug}`, '/admin/users', '/admin/audit', '/account',
    '/admin/projects/demo/leaderboard', '/admin/leaderboard']) {
    await page.goto(path);
    await hydrated(page);
    await accessible(page, path);
  }
});

test('the check itself finds a violation when there is one', async ({ page }) => {
  await page.goto('/login');
  // A button with no name and an image without alt: both critical for axe.
  await page.evaluate(() => document.body.insertAdjacentHTML('beforeend', '<button></button><img src="x.png">'));
  const result = await new AxeBuilder({ page }).analyze();
  const ids = result.violations.filter((v) => v.impact === 'critical').map((v) => v.id);
  expect(ids).toEqual(expect.arrayContaining(['button-name', 'image-alt']));
});

test('dark mode follows the browser, the switch keeps a choice per user, and text size steps', async ({ browser, request }) => {
  const { slug, annotator } = await setup(request, plainItems(1, 'dark'), 1);
  const context = await browser.newContext({ colorScheme: 'dark' });
  const page = await context.newPage();
  await login(page, annotator.username, annotator.password);
  await page.goto(`/annotate/${slug}`);
  await hydrated(page);
  const background = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  await expect(page.locator('html')).toHaveAttribute('data-theme', 'auto');
  expect(await background()).toBe('rgb(20, 23, 28)');
  await accessible(page, 'annotator, dark');
  // The switch: light from now on, in every browser of this user.
  await page.getByTestId('theme-toggle').click();
  await expect(page.locator('html')).toHaveAttribute('data-theme', 'dark');
  await page.getByTestId('theme-toggle').click();
  await expect(page.locator('html')).toHaveAttribute('data-theme', 'light');
  expect(await background()).toBe('rgb(246, 247, 249)');
  expect(page.url()).toContain(`/annotate/${slug}`);
  // A+ twice: 120%.
  await page.getByRole('button', { name: 'Larger text' }).click();
  await page.getByRole('button', { name: 'Larger text' }).click();
  await expect(page.locator('html')).toHaveClass('text-120');
  const size = await page.evaluate(() => getComputedStyle(document.body).fontSize);
  expect(size).toBe('18px');
  await context.close();
});

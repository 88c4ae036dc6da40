import AxeBuilder from '@axe-core/playwright';
import { Page } from '@playwright/test';
import { hydrated, login, setup, test, expect } from './helpers';

// Three models; the annotator prefers gamma to beta to alpha.
const items = Array.from({ length: 4 }, (_, i) => ({
  id: `lb-${i}`,
  prompt: `Leaderboard prompt ${i}`,
  completions: ['alpha', 'beta', 'gamma'].map((m) => ({ model: m, text: `${m} answers ${i}` })),
}));
const strength: Record<string, number> = { alpha: 0, beta: 1, gamma: 2 };

async function accessible(page: Page) {
  const axe = await new AxeBuilder({ page }).analyze();
  expect(axe.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => v.id)).toEqual([]);
}

test('the leaderboard ranks the models the annotator preferred; the dashboard leads from a flag to its pair, which is adjudicated', async ({ browser, request }) => {
  const { slug, annotator } = await setup(request, items, 1);
  const context = await browser.newContext();
  const page = await context.newPage();
  await login(page, annotator.username, annotator.password);
  await page.goto(`/annotate/${slug}`);
  await hydrated(page);
  for (let done = 1; done <= 12; done++) {
    const left = (await page.locator('[data-side=left] .md').innerText()).match(/(alpha|beta|gamma) answers/)![1];
    const right = (await page.locator('[data-side=right] .md').innerText()).match(/(alpha|beta|gamma) answers/)![1];
    // The first pair is also marked "both bad" (b): the dashboard counts it.
    if (done === 1) await page.keyboard.press('b');
    await page.keyboard.press(strength[left] > strength[right] ? '1' : '7');
    await page.keyboard.press('Enter');
    await expect(page.getByTestId('progress')).toContainText(`${done} done`);
  }
  await context.close();

  // The admin (the setup's request context is logged in as the demo admin).
  const r = await request.get(`/api/v1/projects/${slug}/leaderboard`);
  expect(r.status()).toBe(200);
  const board = await r.json();
  expect(board.models.map((m: { model: string }) => m.model)).toEqual(['gamma', 'beta', 'alpha']);
  expect(board.battles).toBe(12);

  const admin = await browser.newContext();
  const a = await admin.newPage();
  await login(a, 'admin', 'demo-admin-password');
  await a.goto(`/admin/projects/${slug}`);
  await hydrated(a);
  await a.getByTestId('leaderboard-link').click();
  await expect(a.getByRole('heading', { name: /Model leaderboard/ })).toBeVisible();
  await hydrated(a);
  const rows = a.getByTestId('leaderboard').locator('tbody tr');
  await expect(rows).toHaveCount(3);
  await expect(rows.first()).toContainText('gamma');
  for (const chart of ['chart-ratings', 'chart-win-rate', 'chart-battles']) {
    await expect(a.getByTestId(chart).locator('svg')).toBeVisible();
  }
  await expect(a.getByTestId('chart-win-rate').locator('svg rect')).toHaveCount(9);
  await expect(a.getByTestId('leaderboard-summary')).toContainText('12 battles between 3 models');
  // The charts are labelled images; the page has no serious accessibility violation.
  await expect(a.getByRole('img', { name: /Win rate/ })).toBeVisible();
  await accessible(a);

  // The dashboard: progress, judgements per hour, the annotator, and from
  // a model's "both bad" count to the flagged pair and its vote.
  await a.goto(`/admin/projects/${slug}`);
  await hydrated(a);
  await a.getByTestId('dashboard-link').click();
  await expect(a.getByRole('heading', { name: /Dashboard/ })).toBeVisible();
  await hydrated(a);
  await expect(a.getByText('12 of 12 tasks complete')).toBeVisible();
  await expect(a.getByTestId('chart-per-hour').locator('svg')).toBeVisible();
  await expect(a.getByTestId('annotator-row')).toHaveCount(1);
  await expect(a.getByTestId('annotator-row')).toContainText(annotator.username);
  await accessible(a);
  await a.getByTestId('flag-link').filter({ hasText: /^1$/ }).first().click();
  await expect(a.getByTestId('flagged-pairs')).toContainText(/Pairs of (alpha|beta|gamma) with flags/);
  await a.getByTestId('pair-link').first().click();
  await expect(a.getByRole('heading', { name: 'A pair and its votes' })).toBeVisible();
  await expect(a.getByTestId('vote')).toHaveCount(1);
  await expect(a.getByTestId('vote')).toContainText('✓');
  await expect(a.getByTestId('vote')).toContainText(annotator.username);

  // Adjudicate it: the final label is kept and shown.
  await a.getByTestId('label-form').getByRole('combobox').selectOption('tie');
  await a.getByTestId('label-form').getByRole('button').click();
  await expect(a.getByRole('status')).toHaveText('Final label saved');
  await hydrated(a);
  await expect(a.getByTestId('label-form').getByRole('combobox')).toHaveValue('tie');
  await a.goto(`/admin/projects/${slug}/adjudicate`);
  await expect(a.getByRole('heading', { name: 'Pairs with split votes' })).toBeVisible();
  await accessible(a);
  await admin.close();
});

import { exportTrl, hydrated, login, plainItems, setup, test, expect } from './helpers';

test('an annotator judges three pairs with the keyboard only and the export matches', async ({ page, request }) => {
  const { slug, annotator } = await setup(request, plainItems(3, 'kb'));
  await login(page, annotator.username, annotator.password);
  await page.goto(`/annotate/${slug}`);
  await hydrated(page);
  await expect(page.getByTestId('progress')).toHaveText('0 done · 3 to go');

  // Keys: 1 = A (left) much better, 6 = B (right) better, 3 = A slightly better.
  const plan = [{ key: '1', winner: 'left', margin: 1 }, { key: '6', winner: 'right', margin: 0.667 }, { key: '3', winner: 'left', margin: 0.333 }];
  const expected: { chosen: string; rejected: string; margin: number }[] = [];
  for (const [i, step] of plan.entries()) {
    const left = (await page.locator('[data-side=left] .md').innerText()).trim();
    const right = (await page.locator('[data-side=right] .md').innerText()).trim();
    const url = page.url();
    await page.keyboard.press(step.key);
    await expect(page.locator('input[name=choice]:checked')).toHaveValue(String(Number(step.key) - 4));
    await page.keyboard.press('Enter');
    await expect(page.getByTestId('progress')).toHaveText(`${i + 1} done · ${2 - i} to go`);
    expect(page.url()).toBe(url); // no page load
    expected.push(step.winner === 'left' ? { chosen: left, rejected: right, margin: step.margin } : { chosen: right, rejected: left, margin: step.margin });
  }
  await expect(page.getByTestId('all-done')).toBeVisible();

  const rows = await exportTrl(request, slug);
  expect(rows).toHaveLength(3);
  for (const e of expected) {
    const row = rows.find((r: any) => r.chosen === e.chosen);
    expect(row, `${e.chosen} should be chosen`).toBeTruthy();
    expect(row.rejected).toBe(e.rejected);
    expect(row.margin).toBe(e.margin);
  }
});

test('a script or event handler in a completion never runs', async ({ page, request }) => {
  const evil = [
    '<script>window.__xss = "script"</script>',
    '<img src="x" onerror="window.__xss = \'img\'">',
    '[click](javascript:window.__xss="link")',
  ].join('\n\n');
  const { slug, annotator } = await setup(request, [
    { id: 'x1', prompt: 'Hi <script>window.__xss="prompt"</script>', completions: [{ model: 'a', text: evil }, { model: 'b', text: 'plain **bold**' }] },
  ]);
  const dialogs: string[] = [];
  page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss(); });
  await login(page, annotator.username, annotator.password);
  await page.goto(`/annotate/${slug}`);
  await hydrated(page);
  await expect(page.locator('.side strong')).toHaveText('bold');
  expect(await page.evaluate(() => (window as any).__xss)).toBeUndefined();
  expect(await page.locator('.side script, .thread script').count()).toBe(0);
  expect(await page.locator('[onerror]').count()).toBe(0);
  // The javascript: link is still there as text, without its address; clicking it does nothing.
  const link = page.locator('.side a', { hasText: 'click' });
  await expect(link).toHaveCount(1);
  expect(await link.getAttribute('href')).toBeNull();
  const before = page.url();
  await link.click();
  expect(page.url()).toBe(before);
  expect(await page.evaluate(() => (window as any).__xss)).toBeUndefined();
  expect(dialogs).toEqual([]);
});

test('without JavaScript the page works as plain forms', async ({ browser, request }) => {
  const { slug, annotator } = await setup(request, plainItems(2, 'nojs'));
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await login(page, annotator.username, annotator.password);
  await page.goto(`/annotate/${slug}`);
  await expect(page.getByTestId('progress')).toHaveText('0 done · 2 to go');
  const right = (await page.locator('[data-side=right] .md').innerText()).trim();
  await page.locator('label.opt', { hasText: 'B much better' }).click();
  await page.getByLabel('unsafe').check();
  await page.getByLabel('Rationale (optional)').fill('no js here');
  await page.getByRole('button', { name: /Submit/ }).click();
  await expect(page.getByTestId('progress')).toHaveText('1 done · 1 to go');
  await page.getByRole('button', { name: /Skip/ }).click();
  await expect(page.getByTestId('all-done')).toBeVisible();
  const rows = await exportTrl(request, slug);
  expect(rows).toHaveLength(1);
  expect(rows[0].chosen).toBe(right);
  await context.close();
});

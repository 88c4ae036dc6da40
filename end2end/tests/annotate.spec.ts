import { checkExport, exportTrl, hydrated, login, plainItems, setup, test, expect } from './helpers';

test('an annotator judges four pairs with the keyboard only and the export matches and loads typed', async ({ page, request }) => {
  // Three plain prompts and a conversation: the export must hold one schema.
  const items: any[] = plainItems(3, 'kb');
  items.push({ id: 'kb-conv', messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello!' }, { role: 'user', content: 'Tell a joke.' }],
    completions: [{ model: 'alpha', text: 'Knock knock.' }, { model: 'beta', text: 'No jokes today.' }] });
  const { slug, annotator } = await setup(request, items);
  await login(page, annotator.username, annotator.password);
  await page.goto(`/annotate/${slug}`);
  await hydrated(page);
  await expect(page.getByTestId('progress')).toHaveText('0 done · 4 to go');

  // Keys: 1 = A (left) much better, 6 = B (right) better, 3 = A slightly better, 7 = B much better.
  const plan = [{ key: '1', winner: 'left', margin: 1 }, { key: '6', winner: 'right', margin: 0.667 },
    { key: '3', winner: 'left', margin: 0.333 }, { key: '7', winner: 'right', margin: 1 }];
  const expected: { chosen: string; rejected: string; margin: number }[] = [];
  for (const [i, step] of plan.entries()) {
    const left = (await page.locator('[data-side=left] .md').innerText()).trim();
    const right = (await page.locator('[data-side=right] .md').innerText()).trim();
    const url = page.url();
    await page.keyboard.press(step.key);
    await expect(page.locator('input[name=choice]:checked')).toHaveValue(String(Number(step.key) - 4));
    await page.keyboard.press('Enter');
    await expect(page.getByTestId('progress')).toHaveText(`${i + 1} done · ${3 - i} to go`);
    expect(page.url()).toBe(url); // no page load
    expected.push(step.winner === 'left' ? { chosen: left, rejected: right, margin: step.margin } : { chosen: right, rejected: left, margin: step.margin });
  }
  await expect(page.getByTestId('all-done')).toBeVisible();

  const r = await request.get(`/api/v1/projects/${slug}/export?format=trl`);
  expect(r.headers()['x-arbiter-form']).toBe('conversational');
  const text = await r.text();
  const rows = text.trim().split('\n').map((l) => JSON.parse(l));
  expect(rows).toHaveLength(4);
  for (const e of expected) {
    const row = rows.find((r: any) => r.chosen[0].content === e.chosen);
    expect(row, `${e.chosen} should be chosen`).toBeTruthy();
    expect(row.rejected[0].content).toBe(e.rejected);
    expect(row.margin).toBe(e.margin);
  }
  checkExport(text, 'conversational');
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

import { hydrated, login, setup, test, expect } from './helpers';

test('d marks the words that differ; long answers scroll on their own or together', async ({ page, request }) => {
  const long = (who: string) => Array.from({ length: 120 }, (_, i) => `Line ${i} of ${who}.`).join('\n\n');
  const { slug, annotator } = await setup(request, [
    { id: 'near', prompt: 'Near-identical?', completions: [{ model: 'a', text: 'The **cat** sat on the mat.' }, { model: 'b', text: 'The **dog** sat on the mat.' }] },
    { id: 'long', prompt: 'Long?', completions: [{ model: 'a', text: long('alpha') }, { model: 'b', text: long('beta') }] },
  ], 1);
  await login(page, annotator.username, annotator.password);
  await page.goto(`/annotate/${slug}`);
  await hydrated(page);
  // Which pair comes first is the engine's choice: judge until the near-identical one shows.
  const left = page.locator('[data-side=left] .md');
  if (!(await left.innerText()).includes('sat on')) {
    await page.keyboard.press('4');
    await page.keyboard.press('Enter');
    await expect(left).toContainText('sat on');
  }
  await page.keyboard.press('d');
  await expect(page.locator('[data-side=left] mark.diff')).toHaveCount(1);
  await expect(page.locator('[data-side=right] mark.diff')).toHaveCount(1);
  const words = [await page.locator('[data-side=left] mark.diff').innerText(), await page.locator('[data-side=right] mark.diff').innerText()].sort();
  expect(words).toEqual(['cat', 'dog']);
  // Markdown stays rendered: the marked word is still bold.
  await expect(page.locator('[data-side=left] strong mark.diff')).toHaveCount(1);
  await page.keyboard.press('d');
  await expect(page.locator('mark.diff')).toHaveCount(0);
  await expect(page.locator('[data-side=left] strong')).toHaveCount(1);
  await page.keyboard.press('4');
  await page.keyboard.press('Enter');
  await expect(left).toContainText('Line 0 of');

  // Long answers scroll inside their side; with "Scroll together" the other follows.
  const sides = page.locator('.side');
  const scrollable = await sides.first().evaluate((e) => e.scrollHeight > e.clientHeight + 100);
  expect(scrollable).toBe(true);
  await sides.first().evaluate((e) => { e.scrollTop = e.scrollHeight; });
  await page.waitForTimeout(100);
  expect(await sides.nth(1).evaluate((e) => e.scrollTop)).toBe(0);
  await page.getByLabel('Scroll together').check();
  await sides.first().evaluate((e) => { e.scrollTop = 0; });
  await expect.poll(() => sides.nth(1).evaluate((e) => e.scrollTop)).toBe(0);
  await sides.first().evaluate((e) => { e.scrollTop = (e.scrollHeight - e.clientHeight) / 2; });
  await expect.poll(() => sides.nth(1).evaluate((e) => e.scrollTop / (e.scrollHeight - e.clientHeight))).toBeGreaterThan(0.4);
  // The scale stays in view while the answers are long.
  await expect(page.locator('fieldset.scale')).toBeInViewport();
});

test('code blocks are highlighted without loading anything from elsewhere', async ({ page, request }) => {
  const code = '```python\ndef f(x):\n    # double it\n    return x * 2  # "<b>"\n```';
  const { slug, annotator } = await setup(request, [
    { id: 'code', prompt: 'Code?', completions: [{ model: 'a', text: code }, { model: 'b', text: 'plain' }] },
  ], 1);
  const outside: string[] = [];
  page.on('request', (r) => { if (!r.url().startsWith('http://127.0.0.1')) outside.push(r.url()); });
  await login(page, annotator.username, annotator.password);
  await page.goto(`/annotate/${slug}`);
  await hydrated(page);
  const comment = page.locator('.side .hl-comment').first();
  await expect(comment).toContainText('# double it');
  const colour = await comment.evaluate((e) => getComputedStyle(e).color);
  expect(colour).toBe('rgb(106, 115, 125)');
  await expect(page.locator('.side .hl-keyword', { hasText: 'return' })).toHaveCount(1);
  await expect(page.locator('.side b')).toHaveCount(0);
  expect(outside).toEqual([]);
});

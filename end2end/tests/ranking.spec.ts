import { hydrated, login, setup, test, expect, Item } from './helpers';

/** Prompts whose completions say their quality: "quality 3 …" is best of four. */
function rankedItems(n: number, k: number, tag: string): Item[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `${tag}-${i}`,
    prompt: `Prompt ${tag} ${i}`,
    completions: Array.from({ length: k }, (_, q) => ({ model: `m${q}`, text: `quality ${q} of ${tag} ${i}` })),
  }));
}

const quality = (text: string) => Number(text.trim().split(/\s+/)[1]);

test('an annotator ranks four completions with the keyboard only and the export has the right order', async ({ page, request }) => {
  const { slug, annotator } = await setup(request, rankedItems(2, 4, 'rk'), 1, { task_type: 'ranking' });
  await login(page, annotator.username, annotator.password);
  await page.goto(`/annotate/${slug}`);
  await hydrated(page);
  await expect(page.getByTestId('progress')).toHaveText('0 done · 2 to go');
  const shownOrders: number[][] = [];
  for (let task = 0; task < 2; task++) {
    const cards = page.getByTestId('completion');
    await expect(cards).toHaveCount(4);
    const shown = (await cards.locator('.md').allInnerTexts()).map(quality);
    shownOrders.push(shown);
    // The shown position (1-based) of each quality, best first.
    const pos = (q: number) => String(shown.indexOf(q) + 1);
    if (task === 0) {
      // A slip corrected with Backspace: type the worst first, undo it.
      await page.keyboard.press(pos(0));
      await page.keyboard.press('Backspace');
      await page.keyboard.press(pos(3));
      await page.keyboard.press(pos(2));
      await page.keyboard.press(pos(1));
      await page.keyboard.press(pos(0));
      await expect(page.getByTestId('rank')).toHaveText(shown.map((q) => `#${4 - q}`));
    } else {
      // 3 best; 2 and 1 tied; the last one left goes last by itself.
      await page.keyboard.press(pos(3));
      await page.keyboard.press(pos(2));
      await page.keyboard.press('=');
      await page.keyboard.press(pos(1));
      await expect(page.getByTestId('order')).toContainText(`${pos(3)}  ›  ${pos(2)} = ${pos(1)}`);
      await expect(page.getByTestId('rank')).toHaveText(shown.map((q) => (q === 3 ? '#1' : q === 0 ? '' : '#2')));
    }
    // The rank selectors (the no-JavaScript path) follow the keys.
    const firstRank = task === 0 ? 4 - shown[0] : ({ 3: 1, 2: 2, 1: 2, 0: '' } as Record<number, number | string>)[shown[0]];
    await expect(page.locator('select[name^=rank_]').first()).toHaveValue(String(firstRank));
    await page.keyboard.press('Enter');
    await expect(page.getByTestId('progress')).toHaveText(`${task + 1} done · ${1 - task} to go`);
  }
  await expect(page.getByTestId('all-done')).toBeVisible();

  const rewards = (await (await request.get(`/api/v1/projects/${slug}/export?format=rewards`)).text())
    .trim().split('\n').map((l) => JSON.parse(l));
  expect(rewards).toHaveLength(8);
  for (const row of rewards) {
    const q = quality(row.completion);
    const prompt = Number(row.prompt.split(' ').pop());
    // First prompt: a strict order; second: 2 and 1 tie.
    const expected = prompt === 0 ? 4 - q : [4, 2, 2, 1][q];
    expect(row.rank, JSON.stringify(row)).toBe(expected);
  }
  const trl = (await (await request.get(`/api/v1/projects/${slug}/export?format=trl`)).text())
    .trim().split('\n').map((l) => JSON.parse(l));
  expect(trl).toHaveLength(6 + 5);
  for (const row of trl) expect(quality(row.chosen)).toBeGreaterThan(quality(row.rejected));
});

test('an annotator rates completions with digits, Tab and Shift+Tab', async ({ page, request }) => {
  const { slug, annotator } = await setup(request, rankedItems(1, 3, 'rt'), 1, { task_type: 'rating', scale: '1-5' });
  await login(page, annotator.username, annotator.password);
  await page.goto(`/annotate/${slug}`);
  await hydrated(page);
  const cards = page.getByTestId('completion');
  await expect(cards).toHaveCount(3);
  const shown = (await cards.locator('.md').allInnerTexts()).map(quality);
  // 5 rates the first and moves to the second; Tab passes over it to the
  // third, 1 rates that; Shift+Tab goes back to the second, 3 rates it.
  await page.keyboard.press('5');
  await expect(cards.nth(1)).toHaveClass(/focused/);
  await page.keyboard.press('Tab');
  await expect(cards.nth(2)).toHaveClass(/focused/);
  await page.keyboard.press('1');
  await page.keyboard.press('Shift+Tab');
  await expect(cards.nth(1)).toHaveClass(/focused/);
  await page.keyboard.press('3');
  const given = [5, 3, 1];
  for (const [i, v] of given.entries()) {
    await expect(cards.nth(i).locator('input[type=radio]:checked')).toHaveValue(String(v));
  }
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('all-done')).toBeVisible();
  const rewards = (await (await request.get(`/api/v1/projects/${slug}/export?format=rewards`)).text())
    .trim().split('\n').map((l) => JSON.parse(l));
  expect(rewards).toHaveLength(3);
  for (const row of rewards) {
    // The card shown at position i got given[i]: rank 1 for 5, 3 for 1.
    const at = shown.indexOf(quality(row.completion));
    expect(row.rank, JSON.stringify(row)).toBe(at + 1);
  }
});

test('answers can be ranked by dragging one onto another and flagged one by one', async ({ page, request }) => {
  const { slug, annotator } = await setup(request, rankedItems(1, 3, 'dd'), 1, { task_type: 'ranking' });
  await login(page, annotator.username, annotator.password);
  await page.goto(`/annotate/${slug}`);
  await hydrated(page);
  const cards = page.getByTestId('completion');
  await expect(cards).toHaveCount(3);
  const shown = (await cards.locator('.md').allInnerTexts()).map(quality);
  // Drag the best answer onto another card's place: it goes first, and the
  // unranked answers follow in shown order.
  const best = shown.indexOf(2);
  await cards.nth(best).dragTo(cards.nth(best === 0 ? 1 : 0));
  await expect(page.getByTestId('rank').nth(best)).toHaveText('#1');
  const order = (await page.getByTestId('rank').allInnerTexts());
  expect(order.filter((t) => t !== '').length).toBe(3);
  // Make the order match quality exactly with the selectors (the no-JS path, hydrated).
  for (const [i, q] of shown.entries()) await page.locator('select[name^=rank_]').nth(i).selectOption(String(3 - q));
  await expect(page.getByTestId('rank')).toHaveText(shown.map((q) => `#${3 - q}`));
  // Flag the worst answer as unsafe.
  const worst = shown.indexOf(0);
  await cards.nth(worst).getByLabel('unsafe').check();
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('all-done')).toBeVisible();
  const raw = (await (await request.get(`/api/v1/projects/${slug}/export?format=raw`)).text())
    .trim().split('\n').map((l) => JSON.parse(l));
  expect(raw).toHaveLength(3);
  for (const row of raw) {
    const flagged = row.model_a === 'm0' || row.model_b === 'm0';
    expect(row.flags, JSON.stringify(row)).toEqual(flagged ? ['unsafe'] : []);
    // m2 beats m1 beats m0: canonical choice favours the better model.
    const better = Number(row.model_a.slice(1)) > Number(row.model_b.slice(1));
    expect(row.choice).toBe(better ? 3 : -3);
  }
});

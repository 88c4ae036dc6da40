import { hydrated, login, plainItems, setup, test, expect } from './helpers';

test('Backspace brings back the last judgement, a change replaces it and raw keeps both versions', async ({ page, request }) => {
  // The last two judgements can be changed.
  const { slug, annotator } = await setup(request, plainItems(4, 'undo'), 1, { undo_judgements: 2 });
  await login(page, annotator.username, annotator.password);
  await page.goto(`/annotate/${slug}`);
  await hydrated(page);
  const shown: { left: string; right: string }[] = [];
  for (const [i, key] of ['1', '6', '3'].entries()) {
    const left = (await page.locator('[data-side=left] .md').innerText()).trim();
    const right = (await page.locator('[data-side=right] .md').innerText()).trim();
    shown.push({ left, right });
    await page.keyboard.press(key);
    await page.keyboard.press('Enter');
    await expect(page.getByTestId('progress')).toHaveText(`${i + 1} done · ${3 - i} to go`);
  }
  await expect(page.getByTestId('save-status')).toHaveText('Saved ✓');
  const fourth = (await page.locator('[data-side=left] .md').innerText()).trim();

  // Backspace: the third pair again, as it was judged (3 = A slightly better).
  await page.keyboard.press('Backspace');
  await expect(page.getByTestId('editing')).toBeVisible();
  await expect(page.locator('[data-side=left] .md')).toHaveText(shown[2].left);
  await expect(page.locator('input[name=choice]:checked')).toHaveValue('-1');
  // Change it to 7 (B much better) and submit: back to the fourth pair.
  await page.keyboard.press('7');
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('editing')).toHaveCount(0);
  await expect(page.locator('[data-side=left] .md')).toHaveText(fourth);
  await expect(page.getByTestId('save-status')).toHaveText('Saved ✓');
  await expect(page.getByTestId('progress')).toHaveText('3 done · 1 to go');

  // Backspace twice goes one further back; three times reaches the first,
  // outside the window of two: shown, but it can no longer be changed.
  await page.keyboard.press('Backspace');
  await expect(page.locator('[data-side=left] .md')).toHaveText(shown[2].left);
  await expect(page.locator('input[name=choice]:checked')).toHaveValue('3');
  await page.keyboard.press('Backspace');
  await expect(page.locator('[data-side=left] .md')).toHaveText(shown[1].left);
  await page.keyboard.press('Backspace');
  await expect(page.locator('[data-side=left] .md')).toHaveText(shown[0].left);
  await expect(page.getByTestId('editing')).toContainText('can no longer be changed');
  await page.keyboard.press('s');
  await expect(page.locator('[data-side=left] .md')).toHaveText(fourth);

  // The export: the new choice, one row for that pair; raw: both versions.
  const trl = (await (await request.get(`/api/v1/projects/${slug}/export?format=trl`)).text())
    .trim().split('\n').map((l) => JSON.parse(l));
  expect(trl).toHaveLength(3);
  const third = trl.filter((r: any) => [shown[2].left, shown[2].right].includes(r.chosen));
  expect(third).toHaveLength(1);
  expect(third[0].chosen).toBe(shown[2].right);
  const raw = (await (await request.get(`/api/v1/projects/${slug}/export?format=raw`)).text())
    .trim().split('\n').map((l) => JSON.parse(l));
  expect(raw).toHaveLength(4);
  const versions = raw.filter((r: any) => r.version === 2 || !r.latest)
    .map((r: any) => [r.version, r.latest, r.choice_shown]);
  expect(versions).toEqual([[1, false, -1], [2, true, 3]]);
});

test('the history lists judgements and opens one to change it', async ({ page, request }) => {
  const { slug, annotator } = await setup(request, plainItems(2, 'hist'), 1);
  await login(page, annotator.username, annotator.password);
  await page.goto(`/annotate/${slug}`);
  await hydrated(page);
  const first = (await page.locator('[data-side=left] .md').innerText()).trim();
  await page.keyboard.press('2');
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('save-status')).toHaveText('Saved ✓');
  await page.getByRole('link', { name: 'History' }).click();
  await expect(page.getByTestId('history-item')).toHaveCount(1);
  await page.getByRole('link', { name: 'Change' }).click();
  await hydrated(page);
  await expect(page.getByTestId('editing')).toBeVisible();
  await expect(page.locator('[data-side=left] .md')).toHaveText(first);
  await expect(page.locator('input[name=choice]:checked')).toHaveValue('-2');
  await page.keyboard.press('4');
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('save-status')).toHaveText('Saved ✓');
  await page.goto(`/annotate/${slug}/history`);
  await expect(page.getByTestId('history-item').locator('td').nth(3)).toHaveText('2');
});

import { exportTrl, hydrated, login, plainItems, setup, test, expect } from './helpers';

// Every keypress counts: 20 pairs judged with no pause between keys (each
// Enter pressed while the previous save or prefetch may still be in flight),
// 20 times over. Every judgement must be stored, none twice.
for (let run = 1; run <= 20; run += 1) {
  test(`20 pairs typed without a pause are all stored (run ${run} of 20)`, async ({ page, request }) => {
    const { slug, annotator } = await setup(request, plainItems(20, `fast${run}`));
    await login(page, annotator.username, annotator.password);
    await page.goto(`/annotate/${slug}`);
    await hydrated(page);
    const keys = ['1', '7', '2', '6', '3', '5'];
    for (let i = 0; i < 20; i += 1) {
      await page.keyboard.press(keys[i % keys.length]);
      await page.keyboard.press('Enter');
    }
    await expect(page.getByTestId('all-done')).toBeVisible({ timeout: 15_000 });
    await expect(page.getByTestId('progress')).toHaveText('20 done · 0 to go');
    expect(await page.evaluate((s) => localStorage.getItem(`arbiter.outbox.${s}`), slug)).toBeNull();
    const progress = await (await request.get(`/api/v1/projects/${slug}/progress`)).json();
    expect(progress.annotations).toBe(20);
    expect(await exportTrl(request, slug)).toHaveLength(20);
  });
}

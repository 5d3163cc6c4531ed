// Drives the Warden console in headless Chromium (Debian's /usr/bin/chromium) through
// playwright-core. Run by crates/warden-cli/tests/console_browser.rs, which starts the daemon
// and opens the incidents first.
//
//   node console.mjs flow BASE SERVING_ID DRIFT_ID
//       sign in, see a failed step and retry it, read the drift report and a JSON artifact,
//       approve a manual action, watch the page update live, download the post-mortem; then
//       as a viewer: no mutating buttons, a forged POST refused.
//   node console.mjs screenshots BASE INCIDENT_ID DIR
//       the list and an incident, light and dark, at laptop size.
import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";

const [mode, base, first, second, dir] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});
const step = (what) => console.error(`browser: ${what}`);

async function signIn(page, token) {
  await page.goto(`${base}/ui`);
  assert.match(page.url(), /\/ui\/login$/, "an anonymous visit goes to the sign-in page");
  await page.fill("#token", token);
  await Promise.all([page.waitForURL(`${base}/ui`), page.click("button.primary")]);
  const cookies = await page.context().cookies();
  const session = cookies.find((c) => c.name === "warden_session");
  assert.ok(session && session.httpOnly && session.sameSite === "Strict", "an HttpOnly, SameSite=Strict session cookie");
}

async function flow() {
  const [servingId, driftId] = [first, second];
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error") errors.push(`${m.text()} (${page.url()})`); });

  step("sign in as the responder");
  await signIn(page, "responder-token");
  await page.waitForSelector(`a[href="/ui/incidents/${servingId}"]`);
  await page.waitForSelector(`a[href="/ui/incidents/${driftId}"]`);
  assert.ok(await page.isVisible("text=Failed steps"));

  step("a failed step, retried");
  await page.click(`a[href="/ui/incidents/${servingId}"]`);
  const failedRow = page.locator("tr", { has: page.locator(".badge.group-failed") }).first();
  await failedRow.waitFor();
  const failedStep = (await failedRow.getAttribute("id")).replace(/^step-/, "");
  await Promise.all([page.waitForNavigation(), failedRow.locator("button", { hasText: "Retry" }).click()]);
  assert.match(decodeURIComponent(page.url()), new RegExp(`notice=retried ${failedStep}`), page.url());
  assert.ok(await page.isVisible(".notice"));

  step("the page updates live while the incident moves");
  await page.evaluate(() => { window.__wardenMarker = 42; });
  const ack = await fetch(`${base}/api/v1/incidents/${servingId}/ack`, {
    method: "POST", headers: { Authorization: "Bearer responder-token" },
  });
  assert.equal(ack.status, 200, "acknowledging through the API");
  await page.waitForFunction(
    () => document.querySelector("ol.timeline").textContent.includes("acknowledged"),
    null, { timeout: 15000 },
  );
  assert.equal(await page.evaluate(() => window.__wardenMarker), 42, "updated without a reload");

  step("the drift report inline and a JSON artifact as tables");
  await page.goto(`${base}/ui/incidents/${driftId}`);
  await page.click("a:has-text('distribution-review.html')");
  const frame = page.frameLocator("iframe.report");
  await frame.locator("body").waitFor();
  assert.ok((await frame.locator("body").textContent()).includes("num_00"), "the drift report renders in its frame");
  await page.goto(`${base}/ui/incidents/${driftId}`);
  await page.click("a:has-text('alert-history.json')");
  await page.waitForSelector("table.kv th:has-text('backtest')");

  step("approve a manual action; the daemon carries on");
  await page.goto(`${base}/ui/incidents/${driftId}`);
  const tune = page.locator("#step-tune-thresholds");
  await tune.locator("input[name=reason]").first().fill("tune on the labelled history");
  await Promise.all([page.waitForNavigation(), tune.locator("button", { hasText: "Approve" }).click()]);
  assert.match(decodeURIComponent(page.url()), /notice=approved tune-thresholds/, page.url());
  await page.waitForFunction(
    () => document.querySelector("#step-backtest-recall")?.textContent.includes("passed by warden"),
    null, { timeout: 60000 },
  );
  assert.ok((await page.locator("#step-tune-thresholds").textContent()).includes("thresholds tuned"));

  step("the post-mortem, rendered and downloaded");
  await page.click("a:has-text('Post-mortem draft')");
  await page.waitForSelector(`h1:has-text('Post-mortem: ${driftId}')`);
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.click("a:has-text('download Markdown')"),
  ]);
  const markdown = await readFile(await download.path(), "utf8");
  assert.ok(markdown.startsWith(`# Post-mortem: ${driftId}`), markdown.slice(0, 200));

  step("sign out; a viewer sees no mutating buttons and a forged POST is refused");
  await Promise.all([page.waitForNavigation(), page.click("button:has-text('Sign out')")]);
  await signIn(page, "viewer-token");
  await page.goto(`${base}/ui/incidents/${driftId}`);
  assert.equal(await page.locator("form[method=post][action^='/ui/incidents/']").count(), 0);
  assert.deepEqual(errors, [], "no script or loading errors on any page");
  const forged = await page.evaluate(async (url) => {
    const response = await fetch(url, {
      method: "POST", body: new URLSearchParams({ csrf: "forged" }), credentials: "same-origin",
    });
    return response.status;
  }, `${base}/ui/incidents/${driftId}/ack`);
  assert.equal(forged, 403);
  await context.close();
}

async function screenshots() {
  const [incident, out] = [first, dir || second];
  for (const scheme of ["light", "dark"]) {
    const context = await browser.newContext({ colorScheme: scheme, viewport: { width: 1280, height: 860 } });
    const page = await context.newPage();
    await page.goto(`${base}/ui`);
    await page.waitForSelector("table.incidents");
    await page.screenshot({ path: `${out}/console-incidents-${scheme}.png` });
    await page.goto(`${base}/ui/incidents/${incident}`);
    await page.waitForSelector("table.steps");
    await page.screenshot({ path: `${out}/console-incident-${scheme}.png` });
    await context.close();
  }
}

try {
  if (mode === "flow") {
    await flow();
  } else if (mode === "screenshots") {
    await screenshots();
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
  step("ok");
} finally {
  await browser.close();
}

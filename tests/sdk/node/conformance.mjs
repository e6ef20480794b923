#!/usr/bin/env node
// Conformance driver: the official Ayrshare Node SDK (npm `social-media-api`) against postgate.
//
// Run as a subprocess by a Rust integration test: `node tests/sdk/node/conformance.mjs`
// (any working directory; `npm ci` must have been run in tests/sdk/node). The only change
// made to the SDK is its base URL, substituted at load time by ./base-url-hook.mjs; every
// request is built by the SDK.
//
// Environment:
//   POSTGATE_BASE      API root, e.g. http://127.0.0.1:12345/api/ (trailing slash optional;
//                      a bare http://host:port gets /api appended)
//   POSTGATE_API_KEY   API key of the primary profile (sent as `authorization: Bearer ...`)
//   X_CONSUMER_KEY     X BYO consumer key    (header x-twitter-oauth1-api-key)
//   X_CONSUMER_SECRET  X BYO consumer secret (header x-twitter-oauth1-api-secret)
//   POSTGATE_GONE_POST_ID  a post id whose network copies are already gone (step j2)
//   SDK_TIMEOUT_SECS   optional watchdog for the whole run (default 120)
//
// Stops at the first failing step. Last line of output: `N passed, M failed`.
// Exit code: 0 all passed, 1 a step failed, 2 bad environment / SDK not installed.

import { register } from "node:module";

const UNKNOWN_ID = "AAAAAAAAAAAAAAAAAAAA";
const PLATFORMS = ["threads", "twitter"];

function env(name) {
  const value = process.env[name];
  if (!value) {
    console.log(`missing environment variable ${name}`);
    console.log("0 passed, 1 failed");
    process.exit(2);
  }
  return value;
}

// The Node SDK builds `${BASE_URL}/${endpoint}`, so its base must NOT end with '/'.
function normaliseBase(raw) {
  let root = raw.trim().replace(/\/+$/, "");
  if (["", "/"].includes(new URL(root).pathname)) root += "/api";
  return root;
}

const base = normaliseBase(env("POSTGATE_BASE"));
const apiKey = env("POSTGATE_API_KEY");
const xKey = env("X_CONSUMER_KEY");
const xSecret = env("X_CONSUMER_SECRET");
// A server answering a PNG at any path (the gateway downloads the images itself).
const mediaRoot = env("POSTGATE_MEDIA_URL").replace(/\/+$/, "");
const timeoutSecs = Number(process.env.SDK_TIMEOUT_SECS || "120");

register("./base-url-hook.mjs", import.meta.url, { data: { base } });

let SocialMediaAPI;
try {
  ({ default: SocialMediaAPI } = await import("social-media-api"));
} catch (err) {
  console.log(`cannot load the Node SDK (run \`npm ci\` in tests/sdk/node): ${err.message}`);
  console.log("0 passed, 1 failed");
  process.exit(2);
}

let passed = 0;
let current = "(startup)";
setTimeout(() => {
  console.log(`FAIL ${current}: watchdog: no answer within ${timeoutSecs}s overall`);
  console.log(`${passed} passed, 1 failed`);
  process.exit(1);
}, timeoutSecs * 1000).unref();

class StepFailed extends Error {}

const show = (v) => {
  if (v instanceof Error) return `${v.name}: ${v.message}`;
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
};

function get(body, path) {
  let cur = body;
  for (const part of path.split(".")) {
    if (cur !== null && typeof cur === "object" && Object.hasOwn(cur, part)) cur = cur[part];
    else return undefined;
  }
  return cur;
}

class Check {
  constructor(body) {
    this.body = body;
  }
  fail(msg) {
    throw new StepFailed(`${msg}\n    response: ${show(this.body)}`);
  }
  true(cond, msg) {
    if (!cond) this.fail(msg);
  }
  eq(path, expected) {
    const actual = get(this.body, path);
    if (actual !== expected) {
      this.fail(`expected ${path} == ${show(expected)}, got ${show(actual)}`);
    }
    return actual;
  }
  has(path) {
    const actual = get(this.body, path);
    if (actual === undefined || actual === null || actual === "") {
      this.fail(`expected ${path} to be present and non-empty, got ${show(actual)}`);
    }
    return actual;
  }
  strLen(path, n) {
    const actual = get(this.body, path);
    if (typeof actual !== "string" || actual.length !== n) {
      this.fail(`expected ${path} to be a ${n}-char string, got ${show(actual)}`);
    }
    return actual;
  }
  array(path, length) {
    const actual = get(this.body, path);
    if (!Array.isArray(actual)) this.fail(`expected ${path} to be an array, got ${show(actual)}`);
    if (length !== undefined && actual.length !== length) {
      this.fail(`expected ${path} to have ${length} items, got ${actual.length}`);
    }
    return actual;
  }
}

// The SDK never rejects on HTTP errors: it resolves with err.response.body (the parsed
// JSON error body). On transport failure (refused, reset, unparsable JSON) it resolves
// with the got Error object itself. Anything that is not a plain JSON object fails here.
async function call(label, promise) {
  let body;
  try {
    body = await promise;
  } catch (err) {
    throw new StepFailed(`${label} threw ${show(err)}`);
  }
  if (body instanceof Error) throw new StepFailed(`${label} resolved with an error: ${show(body)}`);
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw new StepFailed(`${label} returned a non-object body: ${show(body)}`);
  }
  return body;
}

const runId = Math.random().toString(36).slice(2, 12);
const state = {};
const primary = new SocialMediaAPI(apiKey).setTwitterByo(xKey, xSecret);

async function publish(api, text, extra = {}) {
  const body = await call("post", api.post({ post: text, platforms: [...PLATFORMS], ...extra }));
  return [body, new Check(body)];
}

function checkPublished(body, c) {
  c.eq("status", "success");
  const id = c.strLen("id", 20);
  const ids = c.array("postIds", 2);
  c.true(
    JSON.stringify(ids.map((p) => p && p.platform)) === JSON.stringify(PLATFORMS),
    `expected postIds platforms ${JSON.stringify(PLATFORMS)} in that order`
  );
  ids.forEach((_, i) => {
    c.eq(`postIds.${i}.status`, "success");
    c.has(`postIds.${i}.id`);
    c.has(`postIds.${i}.postUrl`);
  });
  return id;
}

const steps = [
  ["a. createProfile", async () => {
    const title = `sdk-${runId}`;
    const body = await call("createProfile", primary.createProfile({ title }));
    const c = new Check(body);
    c.eq("status", "success");
    state.profileKey = c.has("profileKey");
    c.has("refId");
    c.eq("title", title);
  }],
  ["b1. profile instance: getPost unknown id -> error", async () => {
    state.other = new SocialMediaAPI(apiKey).setProfileKey(state.profileKey);
    const body = await call("getPost", state.other.getPost({ id: UNKNOWN_ID }));
    new Check(body).eq("status", "error");
  }],
  ["b2. profile instance: history is empty array", async () => {
    const body = await call("history", state.other.history());
    new Check(body).array("history", 0);
  }],
  ["c. post to threads+twitter", async () => {
    state.text = `hello ${runId}`;
    const [body, c] = await publish(primary, state.text);
    state.id = checkPublished(body, c);
  }],
  ["d. getPost", async () => {
    const body = await call("getPost", primary.getPost({ id: state.id }));
    const c = new Check(body);
    c.eq("id", state.id);
    c.eq("post", state.text);
    c.eq("status", "success");
  }],
  ["e. history lists the post first", async () => {
    const body = await call("history", primary.history());
    const c = new Check(body);
    const history = c.array("history");
    c.true(history.length >= 1, "expected history to have at least 1 item");
    c.eq("history.0.id", state.id);
  }],
  ["f. delete by id", async () => {
    const body = await call("delete", primary.delete({ id: state.id }));
    const c = new Check(body);
    c.eq("status", "success");
    c.eq("code", 200);
    c.eq("id", state.id);
    for (const platform of PLATFORMS) {
      c.eq(`${platform}.status`, "success");
      c.eq(`${platform}.action`, "delete");
    }
  }],
  ["g. delete again -> 383", async () => {
    const body = await call("delete", primary.delete({ id: state.id }));
    const c = new Check(body);
    c.eq("status", "error");
    c.eq("code", 383);
    c.eq("message", "The post is already deleted.");
  }],
  ["h. bulk delete", async () => {
    const ids = [];
    for (const n of [1, 2]) {
      const [body, c] = await publish(primary, `bulk ${n} ${runId}`);
      ids.push(checkPublished(body, c));
    }
    const body = await call("delete(bulk)", primary.delete({ bulk: ids }));
    const c = new Check(body);
    c.eq("status", "success");
    c.array("posts", 2);
    ids.forEach((id, i) => {
      c.eq(`posts.${i}.status`, "success");
      c.eq(`posts.${i}.id`, id);
    });
  }],
  ["i. deleteAllScheduled", async () => {
    const when = new Date(Date.now() + 3600 * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
    let [body, c] = await publish(primary, `scheduled ${runId}`, { scheduleDate: when });
    c.eq("status", "scheduled");
    const id = c.strLen("id", 20);
    body = await call("delete(deleteAllScheduled)", primary.delete({ deleteAllScheduled: true }));
    c = new Check(body);
    c.eq("status", "success");
    const count = get(body, "count");
    c.true(Number.isInteger(count) && count >= 1, `expected count to be an integer >= 1, got ${show(count)}`);
    const ids = c.array("ids");
    c.true(ids.includes(id), `expected ids to contain ${id}`);
  }],
  ["j1. markManualDeleted on a post still live -> 382", async () => {
    let [body, c] = await publish(primary, `manual ${runId}`);
    const id = checkPublished(body, c);
    body = await call("delete(markManualDeleted)", primary.delete({ id, markManualDeleted: true }));
    c = new Check(body);
    c.eq("status", "error");
    c.eq("code", 382);
    c.eq("markManualDeleted", true);
    c.eq("id", id);
  }],
  ["j2. markManualDeleted on a post gone from the networks", async () => {
    const id = env("POSTGATE_GONE_POST_ID");
    const body = await call("delete(markManualDeleted)", primary.delete({ id, markManualDeleted: true }));
    const c = new Check(body);
    c.eq("status", "success");
    c.eq("id", id);
  }],
  ["k. delete unknown id -> 114", async () => {
    const body = await call("delete", primary.delete({ id: UNKNOWN_ID }));
    const c = new Check(body);
    c.eq("status", "error");
    c.eq("code", 114);
    c.eq("message", "Delete id not found.");
  }],
  ["l. deleteProfile", async () => {
    // The SDK sends DELETE /profiles/profile.
    const title = `sdk-del-${runId}`;
    const created = new Check(await call("createProfile", primary.createProfile({ title })));
    const profileKey = created.has("profileKey");
    const c = new Check(await call("deleteProfile", primary.deleteProfile({ profileKey })));
    c.eq("status", "success");
    c.eq("title", title);
    const gone = await call("deleteProfile", primary.deleteProfile({ profileKey }));
    new Check(gone).eq("status", "error");
  }],
  ["m. generateJWT -> the linking page's URL", async () => {
    // privateKey is accepted and ignored by a self-hosted gateway.
    const c = new Check(await call("generateJWT", primary.generateJWT({
      domain: "sdk-conformance", privateKey: "-----BEGIN RSA PRIVATE KEY-----", expiresIn: 10,
    })));
    c.eq("status", "success");
    c.eq("title", "Primary Profile");
    c.eq("emailSent", false);
    c.eq("expiresIn", "10m");
    const token = c.has("token");
    const url = c.has("url");
    if (!url.endsWith(`/link?jwt=${token}`)) c.fail(`url ${url} is not the linking page of ${token}`);
    const page = await fetch(url);
    if (page.status !== 200) c.fail(`the linking page answered ${page.status}`);
  }],
  ["n. registerWebhook, listWebhooks, unregisterWebhook", async () => {
    // `feed` never fires in postgate, so nothing is ever sent to this URL.
    const url = `https://example.com/postgate-sdk-${runId}`;
    let c = new Check(await call("registerWebhook", primary.registerWebhook({ action: "feed", url })));
    c.eq("status", "success");
    c.eq("action", "feed");
    c.eq("url", url);
    c.has("refId");
    c = new Check(await call("listWebhooks", primary.listWebhooks()));
    c.eq("status", "success");
    const hooks = c.array("webhooks");
    c.true(hooks.some((h) => h.action === "feed" && h.url === url), "expected the feed webhook listed");
    c = new Check(await call("unregisterWebhook", primary.unregisterWebhook({ action: "feed" })));
    c.eq("status", "success");
    c = new Check(await call("listWebhooks", primary.listWebhooks()));
    c.true(!c.array("webhooks").some((h) => h.action === "feed"), "expected the feed webhook gone");
  }],
  ["o. updateProfile, getProfiles by profileKeys", async () => {
    const title = `sdk-upd-${runId}`;
    const created = new Check(await call("createProfile", primary.createProfile({ title })));
    const profileKey = created.has("profileKey");
    const ref = created.has("refId");
    let c = new Check(await call("updateProfile", primary.updateProfile({
      profileKey, title: `${title}-2`, disableSocial: ["twitter"], hideTitle: true, displayTitle: "Shown",
    })));
    c.eq("status", "success");
    c.eq("refId", ref);
    c = new Check(await call("getProfiles", primary.getProfiles({ profileKeys: [profileKey] })));
    c.array("profiles", 1);
    c.eq("profiles.0.title", `${title}-2`);
    c.eq("profiles.0.refId", ref);
    c.has("profiles.0.created");
    c.has("profiles.0.createdUTC");
    c.true(JSON.stringify(get(c.body, "profiles.0.disableSocial")) === '["twitter"]', "expected disableSocial [twitter]");
    c.array("profiles.0.activeSocialAccounts");
    new Check(await call("deleteProfile", primary.deleteProfile({ profileKey }))).eq("status", "success");
  }],
  ["p. user, field for field", async () => {
    const c = new Check(await call("user", primary.user({ instagramQuota: true })));
    c.true(JSON.stringify(c.body.activeSocialAccounts) === '["threads","twitter"]', "expected threads and twitter linked");
    c.eq("title", "Primary Profile");
    c.has("refId");
    c.has("created");
    c.true(Number.isInteger(c.body.monthlyApiCalls) && c.body.monthlyApiCalls > 10, "expected monthlyApiCalls to count this run's calls");
    c.array("displayNames", 2).forEach((n, i) => {
      for (const f of ["created", "displayName", "id", "platform", "profileUrl", "userImage", "username"]) {
        c.true(f in n, `displayNames.${i} lacks ${f}`);
      }
    });
  }],
  ["q. updatePost: scheduled text, approval, a sent post's text", async () => {
    const due = new Date(Date.now() + 86400000).toISOString().replace(/\.\d{3}Z$/, "Z");
    let [, c] = await publish(primary, `sdk later ${runId}`, { scheduleDate: due });
    let id = c.strLen("id", 20);
    c = new Check(await call("updatePost", primary.updatePost({ id, post: `sdk changed ${runId}` })));
    c.eq("status", "success");
    c.eq("postStatus", "pending");
    c = new Check(await call("getPost", primary.getPost({ id })));
    c.eq("post", `sdk changed ${runId}`);
    c = new Check(await call("history", primary.history()));
    c.eq("history.0.id", id);
    c.eq("history.0.type", "scheduled");
    c.eq("history.0.scheduleDate", due);
    [, c] = await publish(primary, `sdk approve ${runId}`, { requiresApproval: true });
    c.eq("status", "awaiting approval");
    id = c.strLen("id", 20);
    c = new Check(await call("updatePost", primary.updatePost({ id, approved: true })));
    c.eq("status", "success");
    c.eq("postStatus", "success");
    c = new Check(await call("updatePost", primary.updatePost({ id, post: "changed" })));
    c.eq("status", "error");
    c.eq("code", 941);
  }],
  ["r. retryPost sends only the failed platform", async () => {
    // Bluesky is not linked in this run: it fails, and a retry sends only it again.
    let c = new Check(await call("post", primary.post({ post: `sdk retry ${runId}`, platforms: ["threads", "twitter", "bluesky"] })));
    c.eq("status", "error");
    c.eq("errors.0.platform", "bluesky");
    const id = c.strLen("id", 20);
    c = new Check(await call("retryPost", primary.retryPost({ id })));
    c.eq("status", "error");
    c.eq("id", id);
    c.eq("errors.0.platform", "bluesky");
    c.eq("errors.0.code", 156);
    c.array("postIds", 2);
    c = new Check(await call("retryPost", primary.retryPost({ id: UNKNOWN_ID })));
    c.eq("status", "error");
    c.eq("code", 920);
  }],
  ["s. listWebhooks in Ayrshare's shape", async () => {
    const url = `https://example.com/postgate-sdk-shape-${runId}`;
    for (const action of ["scheduled", "accountActivity"]) {
      new Check(await call("registerWebhook", primary.registerWebhook({ action, url }))).eq("status", "success");
    }
    const c = new Check(await call("listWebhooks", primary.listWebhooks()));
    c.eq("scheduled", url);
    c.eq("accountActivity", url);
    c.has("updated");
    for (const action of ["scheduled", "accountActivity"]) {
      new Check(await call("unregisterWebhook", primary.unregisterWebhook({ action }))).eq("status", "success");
    }
  }],
  ["t. post with mediaUrls (two images) to threads+twitter", async () => {
    const mediaUrls = [`${mediaRoot}/sdk-${runId}-a.png`, `${mediaRoot}/sdk-${runId}-b.png`];
    const [body, c] = await publish(primary, `pictures ${runId}`, { mediaUrls });
    checkPublished(body, c);
  }],
  ["u. randomPost + randomMediaUrl (Ayrshare's test helpers)", async () => {
    const body = await call("post", primary.post({
      randomPost: true, randomMediaUrl: true, platforms: [...PLATFORMS],
    }));
    const c = new Check(body);
    checkPublished(body, c);
    c.has("post");
    c.has("refId");
    c.array("errors", 0);
  }],
];

console.log(`node SDK social-media-api, base ${base}`);
for (const [name, fn] of steps) {
  current = name;
  try {
    await fn();
  } catch (err) {
    const msg = err instanceof StepFailed ? err.message : `unexpected ${err && err.stack}`;
    console.log(`FAIL ${name}: ${msg}`);
    console.log(`${passed} passed, 1 failed`);
    process.exit(1);
  }
  console.log(`ok   ${name}`);
  passed += 1;
}
console.log(`${passed} passed, 0 failed`);
process.exit(0);
